"""The checker's shared state: diagnostics, params, and where each Plan value came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import nodes as n
from .diagnostics import Diagnostic, Label, Sink, error
from .source import SourceFile, Span
from .suggest import did_you_mean

Loc = tuple[str | int, ...]


@dataclass
class Context:
    root: Path
    sink: Sink = field(default_factory=Sink)
    params: dict[str, Any] = field(default_factory=dict)
    declared_params: set[str] = field(default_factory=set)  # resolved or not
    # Plan path → the node that produced the value, so a pydantic error can point at it.
    origins: dict[Loc, n.Expr | n.Field | n.Statement | n.Decl] = field(default_factory=dict)
    # Every declared data name, checked or not: a reference to one whose declaration has
    # an error must not be reported again as undefined.
    data_declared: set[str] = field(default_factory=set)
    # An entry set by `extends` or `--set` → the entry it replaced, shown beside its errors.
    replaced: dict[Span, n.Entry] = field(default_factory=dict)
    # Every file a diagnostic may quote: the recipe, its imports, `--set` lines.
    extra_sources: dict[str, SourceFile] = field(default_factory=dict)
    # Aliases of imports that failed (already reported): uses of them stay quiet.
    broken_imports: set[str] = field(default_factory=set)
    # Declaration kinds whose `extends` failed, so "missing declaration" is not said too.
    unresolved: set[str] = field(default_factory=set)

    def source_text(self, path: str) -> str:
        source = self.extra_sources.get(path)
        return source.text if source else ""

    def report(self, diagnostic: Diagnostic) -> None:
        self.sink.add(diagnostic)

    def origin(self, loc: Loc, node: n.Expr | n.Field | n.Statement | n.Decl) -> None:
        self.origins[loc] = node


@dataclass(frozen=True)
class BlockShape:
    """What a block may hold: `key = value` fields and `keyword value` statements."""

    title: str  # how messages name the block, e.g. "`train`"
    fields: frozenset[str] = frozenset()
    statements: frozenset[str] = frozenset()
    repeatable: frozenset[str] = frozenset()


@dataclass
class BlockEntries:
    fields: dict[str, n.Field] = field(default_factory=dict)
    statements: list[n.Statement] = field(default_factory=list)

    def one(self, name: str) -> n.Statement | None:
        return next((d for d in self.statements if d.name == name), None)

    def all(self, name: str) -> list[n.Statement]:
        return [d for d in self.statements if d.name == name]


def read_block(ctx: Context, block: n.Block | None, shape: BlockShape) -> BlockEntries:
    """Sort a block's entries, reporting unknown, misplaced and duplicate keys."""
    out = BlockEntries()
    if block is None:
        return out
    seen: dict[str, Span] = {}
    known = shape.fields | shape.statements
    for entry in block.entries:
        if isinstance(entry, n.Field):
            name, name_span = entry.key.dotted, entry.key.span
        else:
            name, name_span = entry.name, entry.name_span
        if name not in known:
            ctx.report(_unknown_key(name, name_span, shape))
            continue
        if isinstance(entry, n.Field) and name not in shape.fields:
            example = _EXAMPLES.get(name, f"{name} …")
            ctx.report(
                error(
                    "E0109",
                    f"`{name}` is a statement and takes no `=`",
                    _between(name_span, entry.value.span),
                    "remove this `=`",
                    help=f"write `{name} <value>`, as in `{example}`",
                )
            )
            continue
        if isinstance(entry, n.Statement) and name not in shape.statements:
            ctx.report(
                error(
                    "E0109",
                    f"`{name}` is a field and needs `=`",
                    entry.name_span,
                    "missing `=` after this",
                    help=f"write `{name} = <value>`",
                )
            )
            continue
        if name in seen and name not in shape.repeatable:
            ctx.report(
                error(
                    "E0103",
                    f"`{name}` is set twice in {shape.title}",
                    name_span,
                    "set again here",
                    secondary=[Label(seen[name], "first set here")],
                    help="remove one of them; a key may appear once in a block",
                )
            )
            continue
        seen.setdefault(name, name_span)
        if isinstance(entry, n.Field):
            out.fields[name] = entry
        else:
            out.statements.append(entry)
    return out


def _unknown_key(name: str, span: Span, shape: BlockShape) -> Diagnostic:
    known = sorted(shape.fields | shape.statements)
    return error(
        "E0102",
        f"unknown field `{name}` in {shape.title}",
        span,
        f"not a field of {shape.title}",
        help=did_you_mean(name, known),
        notes=[f"{shape.title} takes: {', '.join(known)}"] if known else [],
    )


_EXAMPLES = {
    "on": "on tickets.eval",
    "metrics": "metrics [loss, accuracy]",
    "split": "split { train = 90%, eval = 10% }",
    "where": "where len(body) < 4000",
    "dedupe": "dedupe body",
    "compare": "compare base",
    "guard": 'guard jsonl("general.jsonl") max_drop 2%',
    "require": "require accuracy >= 0.8",
    "input": 'input "{{ body }}"',
    "label": 'label "{{ team }}"',
    "target": 'target "{{ reply }}"',
    "user": 'user "{{ question }}"',
    "assistant": 'assistant "{{ answer }}"',
}


def _between(key: Span, value: Span) -> Span:
    """The gap between a key and its value, where the `=` stands; the key if they share no line."""
    if key.end_line != value.line or value.col <= key.end_col:
        return key
    return (
        Span(key.file, key.end_line, key.end_col + 1, key.end_line, value.col - 1)
        if value.col - key.end_col >= 3
        else Span(key.file, key.end_line, key.end_col, key.end_line, value.col)
    )


def read_qualifiers(ctx: Context, statement: n.Statement, allowed: list[str]) -> dict[str, n.Qualifier]:
    """The named qualifiers of a statement (`seed 7`, `max_drop 2%`); unknown names are reported."""
    found: dict[str, n.Qualifier] = {}
    for qualifier in statement.qualifiers:
        if qualifier.name in allowed:
            found[qualifier.name] = qualifier
            continue
        ctx.report(
            error(
                "E0102",
                f"unknown option `{qualifier.name}` of `{statement.name}`",
                qualifier.name_span,
                "not an option",
                help=did_you_mean(qualifier.name, allowed),
                notes=[f"`{statement.name}` takes: {', '.join(allowed)}"],
            )
        )
    return found
