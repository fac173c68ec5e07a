"""An unpaired prompt's `desirable`: rendered with the data's first rows, it must say true or false."""

from __future__ import annotations

from typing import Any

from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ftlang.plan.catalogue import DESIRABLE_FLAGS

from . import nodes as n
from .context import Context
from .datapeek import Peek
from .diagnostics import error


def check_desirable(
    ctx: Context, prompt: dict[str, Any], uses: dict[str, tuple[n.Literal, str]], found: Peek | None, data: str
) -> None:
    """The first row of `data` read at check time whose `desirable` is not a flag is E0343."""
    literal = next((lit for lit, turn in uses.values() if turn == "desirable"), None)
    if prompt.get("task") != "unpaired" or literal is None or found is None:
        return
    template = ImmutableSandboxedEnvironment(undefined=StrictUndefined).from_string(str(literal.value))
    for index, row in enumerate(found.sample, start=1):
        try:
            text = template.render(row).strip()
        except Exception:  # a missing field or a failing filter: the field checks say so
            return
        if text.lower() not in DESIRABLE_FLAGS:
            ctx.report(
                error(
                    "E0343",
                    f"`desirable` renders {text!r} for row {index} of `{data}`, which is not true or false",
                    literal.span,
                    "must render to true or false",
                    notes=[f"accepted, in any case: {', '.join(DESIRABLE_FLAGS)}"],
                    help="render a flag, e.g. `desirable \"{{ rating >= 4 }}\"` or `{{ label == 'good' }}`",
                )
            )
            return
