"""Check what `train` trains on: `data = ref`, or a mixture of `data ref weight W max_rows N` statements."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import nodes as n
from .context import BlockEntries, Context, read_qualifiers
from .diagnostics import Label, error
from .values import describe, plain

MIX_OPTIONS = ["weight", "max_rows"]
DataRefReader = Callable[[n.Expr], dict[str, Any] | None]


def train_sources(ctx: Context, decl: n.Decl, entries: BlockEntries, read_ref: DataRefReader) -> list[Any] | None:
    """The Plan's `train.data` list, or None when the block names no data (the default applies)."""
    statements = entries.all("data")
    field = entries.fields.get("data")
    if field is not None:
        ctx.origin(("train", "data"), field)
        if statements:
            ctx.report(
                error(
                    "E0338",
                    "`train` takes `data = ref` or a mixture of `data ref weight …` statements, not both",
                    statements[0].name_span,
                    "a mixture source",
                    secondary=[Label(field.key.span, "the single source")],
                    help="write each source as a statement: `data chats.train weight 0.9`",
                )
            )
            return None
        ref = read_ref(field.value)
        return None if ref is None else [ref]
    if not statements:
        return None
    ctx.origin(("train", "data"), statements[0])
    read = [_source(ctx, statement, read_ref, index) for index, statement in enumerate(statements)]
    sources = [s for s in read if s is not None]
    if len(sources) < len(read):
        return sources or None
    _check_mixture(ctx, statements, sources)
    return sources


def _source(ctx: Context, statement: n.Statement, read_ref: DataRefReader, index: int) -> dict[str, Any] | None:
    ctx.origin(("train", "data", index), statement)
    ref = read_ref(statement.value)
    if ref is None:
        return None
    for name, qualifier in read_qualifiers(ctx, statement, MIX_OPTIONS).items():
        value = plain(qualifier.value, ctx.params)
        if name == "weight" and isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            ref["weight"] = value
        elif name == "max_rows" and isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            ref["max_rows"] = value
        else:
            wanted = "a number above 0" if name == "weight" else "a whole number of rows, at least 1"
            ctx.report(
                error(
                    "E0338",
                    f"`{name}` of a mixture source is {wanted}, found {describe(qualifier.value)}",
                    qualifier.value.span,
                    f"expected {wanted}",
                    help="`weight` sets the source's share of an epoch; `max_rows` caps the rows taken from it",
                )
            )
    return ref


def _check_mixture(ctx: Context, statements: list[n.Statement], sources: list[dict[str, Any]]) -> None:
    """Weights on every source or on none; no source twice."""
    seen: dict[tuple[str, str | None], n.Statement] = {}
    for statement, source in zip(statements, sources):
        key = (source["data"], source.get("split"))
        if key in seen:
            ctx.report(
                error(
                    "E0338",
                    f"the mixture takes `{_shown(source)}` twice",
                    statement.value.span,
                    "again here",
                    secondary=[Label(seen[key].value.span, "first here")],
                    help="give the source one `data` statement; `weight` raises its share",
                )
            )
        seen.setdefault(key, statement)
    weighted = [s for s, src in zip(statements, sources) if "weight" in src]
    if weighted and len(weighted) < len(statements):
        missing = next(s for s, src in zip(statements, sources) if "weight" not in src)
        ctx.report(
            error(
                "E0338",
                "some sources of the mixture have a `weight` and this one has none",
                missing.value.span,
                "no weight",
                secondary=[Label(weighted[0].span, "weighted")],
                help="weights are shares of each epoch: give every source one, or none",
            )
        )


def _shown(source: dict[str, Any]) -> str:
    return str(source["data"]) + (f".{source['split']}" if source.get("split") else "")
