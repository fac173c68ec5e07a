"""A chat prompt laid out by the model's own chat template (`template = tokenizer`, the default): where
the model is a local folder, `ft check` reads the template it ships and lays out a sample conversation
with it in the sandbox `ft run` renders it in, so a template past a limit is E0600 here, not at run time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ftlang.plan.chat_sandbox import tokenizer_sandbox

from .check_chat import SAMPLE_TURNS
from .confine import is_allowed
from .context import Context
from .diagnostics import error
from .templates import limit_problem

_MAX_CONFIG = 50_000_000  # bytes of tokenizer_config.json read: big vocabularies' added tokens, not more


def check_model_template(ctx: Context, plan: dict[str, Any]) -> None:
    prompt, model = plan.get("prompt") or {}, plan.get("model") or {}
    if prompt.get("task") != "chat" or (prompt.get("template") or {}).get("name", "tokenizer") != "tokenizer":
        return
    found = _shipped_template(model.get("source") or {}, ctx.root)
    where = ctx.origins.get(("prompt", "template")) or ctx.origins.get(("model", "source"))
    if found is None or where is None:
        return
    text, read_from = found
    # What `apply_chat_template` gives a template, with stand-ins for the tokenizer's special tokens.
    values = {"messages": SAMPLE_TURNS, "add_generation_prompt": False, "tools": None, "documents": None}
    values.update(bos_token="<s>", eos_token="</s>")
    problem = limit_problem(text, [values], tokenizer_sandbox())
    if problem is None:
        return
    ctx.report(
        error(
            "E0600",
            "the model's own chat template goes past a limit of the template sandbox",
            where.span,
            problem,
            notes=[f"read from {read_from}"],
            help="lay the turns out with a template of the recipe's: `template = chatml` (or another built-in)",
        )
    )


def _shipped_template(source: dict[str, Any], root: Path) -> tuple[str, str] | None:
    """The chat template a local model folder ships (tokenizer_config.json's, else chat_template.jinja)."""
    path = source.get("path")
    if source.get("kind") != "local" or not isinstance(path, str) or not is_allowed(root, Path(path)):
        return None
    folder = root / path
    config, jinja = folder / "tokenizer_config.json", folder / "chat_template.jinja"
    try:
        if config.is_file() and config.stat().st_size <= _MAX_CONFIG:
            template = _named_default(json.loads(config.read_text(encoding="utf-8")).get("chat_template"))
            if template is not None:
                return template, f"{path}/tokenizer_config.json"
        if jinja.is_file() and jinja.stat().st_size <= _MAX_CONFIG:
            return jinja.read_text(encoding="utf-8"), f"{path}/chat_template.jinja"
    except (OSError, ValueError, AttributeError, RecursionError):  # not JSON, not an object, not UTF-8
        return None
    return None


def _named_default(template: object) -> str | None:
    """A template as transformers stores it: text, or a list of `{name, template}` with a `default`."""
    if isinstance(template, str):
        return template
    if isinstance(template, list):
        named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
        chosen = named.get("default")
        return chosen if isinstance(chosen, str) else None
    return None
