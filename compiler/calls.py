"""Calls in recipes (`jsonl("…")`, `scratch(llama, layers = 2)`): arguments to named values."""

from __future__ import annotations

from typing import Any

from . import nodes as n
from .context import Context, Loc
from .diagnostics import Diagnostic, Label, error
from .suggest import did_you_mean
from .values import describe, plain, unwrap


def check_callee(ctx: Context, call: n.Call, choices: list[str], what: str) -> bool:
    name = call.func.dotted
    if name in choices:
        return True
    ctx.report(
        error(
            "E0206",
            f"unknown {what} `{name}`",
            call.func.span,
            f"not a {what}",
            help=did_you_mean(name, choices),
            notes=[f"{what}s: " + ", ".join(f"`{c}(…)`" for c in choices)],
        )
    )
    return False


def call_arguments(
    ctx: Context, call: n.Call, loc: Loc, positional: list[str], keywords: list[str]
) -> dict[str, Any] | None:
    """Map a call's arguments to names; report extra, unknown and repeated ones."""
    out: dict[str, Any] = {}
    name = call.func.dotted
    if len(call.args) > len(positional):
        ctx.report(_too_many(call, positional, keywords))
        return None
    for arg_name, arg in zip(positional, call.args):
        out[arg_name] = unwrap(plain(arg, ctx.params))
        ctx.origin((*loc, arg_name), arg)
    for kw in call.kwargs:
        problem = _keyword_problem(call, kw, out, positional, keywords)
        if problem is not None:
            ctx.report(problem)
            return None
        out[kw.name] = unwrap(plain(kw.value, ctx.params))
        ctx.origin((*loc, kw.name), kw.value)
    missing = [p for p in positional if p not in out]
    if missing:
        ctx.report(
            error(
                "E0207",
                f"`{name}(…)` needs `{missing[0]}`",
                call.span,
                "missing an argument",
                help=f"write `{name}({', '.join(positional)})`",
            )
        )
        return None
    for key, value in out.items():
        if isinstance(value, n.Call | n.BinaryOp | n.UnaryOp | n.Block):
            ctx.report(
                error(
                    "E0201", f"`{key}` expects a plain value, found {describe(value)}", value.span, "not a plain value"
                )
            )
            return None
    return out


def _too_many(call: n.Call, positional: list[str], keywords: list[str]) -> Diagnostic:
    extra = call.args[len(positional)]
    return error(
        "E0207",
        f"`{call.func.dotted}(…)` takes {len(positional)} positional argument{'s' * (len(positional) != 1)}",
        extra.span,
        "one too many",
        help=f"name the others, e.g. `{keywords[0]} = …`" if keywords else None,
    )


def _keyword_problem(
    call: n.Call, kw: n.Keyword, given: dict[str, Any], positional: list[str], keywords: list[str]
) -> Diagnostic | None:
    """An unknown keyword, or one whose argument is already `given`."""
    name = call.func.dotted
    if kw.name not in keywords and kw.name not in positional:
        return error(
            "E0207",
            f"`{name}(…)` has no argument `{kw.name}`",
            kw.name_span,
            "unknown argument",
            help=did_you_mean(kw.name, keywords + positional),
            notes=[f"`{name}` takes: " + ", ".join(positional + keywords)],
        )
    if kw.name not in given:
        return None
    first = (
        next((k.name_span for k in call.kwargs if k.name == kw.name), None)
        if kw.name not in positional[: len(call.args)]
        else call.args[positional.index(kw.name)].span
    )
    return error(
        "E0103",
        f"argument `{kw.name}` is given twice",
        kw.name_span,
        "given again",
        secondary=[Label(first, "first given here")] if first and first != kw.name_span else [],
        help="remove one of them",
    )
