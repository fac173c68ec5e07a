"""Check a library file (reusable pieces, no model or data) declaration by declaration."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ftlang.plan.catalogue import METHODS

from . import nodes as n
from .check_eval import check_eval
from .check_prompt import check_prompt
from .check_training import check_method, check_train
from .context import Context
from .schema_check import validate as validate_part
from .validate import translate


def check_library(ctx: Context, decls: dict[str, list[n.Decl]]) -> None:
    """A file of reusable pieces (no model, no data): check each declaration on its own."""
    checks: dict[str, tuple[str | None, Callable[[n.Decl], dict[str, Any] | None]]] = {
        "prompt": ("PromptPlan", lambda d: check_prompt(ctx, d)),
        "method": (None, lambda d: check_method(ctx, d)),
        "train": (None, lambda d: check_train(ctx, d, {}, library=True)),
        "eval": (None, lambda d: check_eval(ctx, d, {}, None, None, library=True)[0]),
    }
    for kind, (model, check) in checks.items():
        for decl in decls.get(kind, []):
            data = check(decl)
            if data is None:
                continue
            data.pop("_uses", None)
            if kind == "method":
                model = METHODS[data["kind"]].plan_model
            for item in validate_part(data, model or {"train": "TrainPlan", "eval": "EvalPlan"}[kind], (kind,)):
                if item["type"] != "missing" or item["loc"][-1] not in ("data", "on"):
                    ctx.report(translate(ctx, item))
