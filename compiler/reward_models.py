"""`reward model("…")` in GRPO: the folder must hold a reward model, read from its config alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ftlang.plan.catalogue import reward_model_folder

from . import nodes as n
from .confine import is_allowed, outside_error
from .context import Context
from .diagnostics import Diagnostic, error


def reward_model_problem(ctx: Context, path: Any, node: n.Expr) -> Diagnostic | None:
    """Why the folder is not a reward model (a `…ForSequenceClassification` with one label), or None."""
    if not isinstance(path, str):
        return None  # a wrong type: the Plan's schema reports it
    if not is_allowed(ctx.root, Path(path)):
        return outside_error(ctx.root, path, node.span, "reward model")
    folder = reward_model_folder(ctx.root, path)
    config_path = folder / "config.json"
    if not config_path.is_file():
        return _problem(node, f"`{path}` holds no model: it has no config.json", "no model here")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        return _problem(node, f"the config of `{path}` does not parse: {e}", "unreadable config.json")
    architectures = [str(a) for a in config.get("architectures") or []]
    labels = len(config.get("id2label") or {}) or config.get("num_labels", 2)
    if not any(a.endswith("ForSequenceClassification") for a in architectures):
        found = "a " + " or ".join(architectures) if architectures else "a model of no known architecture"
        return _problem(node, f"`{path}` is not a reward model: it is {found}", "not a reward model")
    if labels != 1:
        return _problem(node, f"`{path}` is a classifier with {labels} labels, not a reward model", "not one score")
    return None


def _problem(node: n.Expr, message: str, label: str) -> Diagnostic:
    return error(
        "E0342",
        message,
        node.span,
        label,
        help="name the run directory of a `method reward` run, or its model/ folder",
        notes=["a reward model is a `…ForSequenceClassification` with one label (num_labels = 1)"],
    )
