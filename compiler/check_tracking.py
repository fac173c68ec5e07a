"""Check `track = [tensorboard, mlflow, wandb]`: known trackers, each once, each one's extra installed.

Whether a tracker's package is installed is read from the installed distributions' metadata
(compiler/environment.py), never by importing it: `ft check` stays instant and runs no library code.
"""

from __future__ import annotations

from ftlang.plan.catalogue import TRACKERS

from . import nodes as n
from .context import Context
from .diagnostics import error
from .environment import installed, missing_package
from .source import Span
from .suggest import did_you_mean
from .values import describe


def check_track(ctx: Context, value: n.Expr) -> list[str] | None:
    """The trackers a `track` field names, in order; None after reporting a mistake."""
    items = value.items if isinstance(value, n.ListExpr) else (value,)
    names: list[str] = []
    ok = True
    for item in items:
        name = _tracker_name(ctx, item)
        if name is None:
            ok = False
        elif name in names:
            ctx.report(error("E0701", f"the tracker `{name}` is named twice", item.span, "already tracked"))
            ok = False
        else:
            names.append(name)
            ok = _installed(ctx, name, item.span) and ok
    return names if ok else None


def _tracker_name(ctx: Context, item: n.Expr) -> str | None:
    if not isinstance(item, n.Name) or len(item.parts) != 1:
        ctx.report(
            error(
                "E0201",
                f"`track` expects tracker names such as `[tensorboard, mlflow]`, found {describe(item)}",
                item.span,
                "not a tracker",
                notes=["trackers: " + ", ".join(TRACKERS)],
            )
        )
        return None
    name = item.parts[0]
    if name not in TRACKERS:
        ctx.report(
            error(
                "E0203",
                f"unknown tracker `{name}`",
                item.span,
                "not a tracker",
                help=did_you_mean(name, TRACKERS),
                notes=["trackers: " + ", ".join(TRACKERS)],
            )
        )
        return None
    return name


def _installed(ctx: Context, name: str, span: Span) -> bool:
    """Whether the tracker's package is here; when not, reported (an error only where runs happen)."""
    spec = TRACKERS[name]
    if installed(spec.distribution):
        return True
    found = missing_package(
        "E0700",
        f"the tracker `{name}` needs the package `{spec.distribution}`, which is not installed",
        span,
        f"needs `{spec.distribution}`",
        help=f"pip install 'ftlang[{spec.extra}]'",
    )
    ctx.report(found)
    return found.severity != "error"
