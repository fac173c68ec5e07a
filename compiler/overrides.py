"""Amend declarations: `extends` from imports, `--set block.field=value`, and sweep variants."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

from ftlang.plan.declarations import DECLARATIONS
from ftlang.plan.redact import masked_param

from . import nodes as n
from .context import Context
from .diagnostics import error
from .imports import Library
from .params import cli_source
from .parser import parse
from .source import SourceFile
from .suggest import did_you_mean

OVERRIDABLE = tuple(keyword for keyword, spec in DECLARATIONS.items() if spec.settable)
# Chat turns replace rather than add: extending a chat format swaps its texts.
REPEATABLE = {"where", "guard", "require"}


def _key(entry: n.Entry) -> str:
    return entry.key.dotted if isinstance(entry, n.Field) else entry.name


def amend(ctx: Context, base: n.Block | None, overrides: tuple[n.Entry, ...]) -> n.Block | None:
    """Base entries, each replaced in place by an override of the same key; new keys appended.

    Repeatable statements (`where`, `guard`, `require`) add to the base instead. Every
    replaced entry is remembered so a diagnostic can show where the old value was set.
    """
    if base is None:
        return None if not overrides else n.Block(overrides, overrides[0].span)
    entries = list(base.entries)
    for entry in overrides:
        key = _key(entry)
        index = next((i for i, e in enumerate(entries) if _key(e) == key and key not in REPEATABLE), None)
        if index is None:
            entries.append(entry)
        else:
            ctx.replaced[entry.span] = entries[index]
            entries[index] = entry
    return n.Block(tuple(entries), base.span)


def resolve_extends(ctx: Context, decl: n.Decl, libraries: dict[str, Library]) -> n.Decl | None:
    """The declaration with its `extends` base merged in (recursively through imports)."""
    if decl.extends is None:
        return decl
    parts = decl.extends.parts
    library = libraries.get(parts[0])
    if library is None and parts[0] in ctx.broken_imports:
        ctx.unresolved.add(decl.kind)
        return None
    if library is None or len(parts) != 2:
        ctx.unresolved.add(decl.kind)
        ctx.report(
            error(
                "E0405",
                f"`{decl.extends.dotted}` names no imported declaration",
                decl.extends.span,
                "not found",
                help=did_you_mean(parts[0], libraries)
                if library is None
                else "write `<import name>.<declaration name>`, e.g. `house.lora`",
                notes=["imports: " + (", ".join(libraries) or "none")],
            )
        )
        return None
    exported = library.exported()
    base = exported.get(parts[1])
    if base is None or base.kind != decl.kind:
        same_kind = [name for name, d in exported.items() if d.kind == decl.kind]
        what = "no declaration" if base is None else f"a `{base.kind}`, not a `{decl.kind}`"
        ctx.unresolved.add(decl.kind)
        ctx.report(
            error(
                "E0405",
                f"`{library.source.path}` has {what} named `{parts[1]}`",
                decl.extends.span,
                f"cannot extend this {decl.kind}",
                help=did_you_mean(parts[1], same_kind),
                notes=[f"`{decl.kind}` declarations there: {', '.join(same_kind) or 'none'}"],
            )
        )
        return None
    base = resolve_extends(ctx, base, library.imports)
    if base is None:
        ctx.unresolved.add(decl.kind)
        return None
    body = amend(ctx, base.body, decl.body.entries if decl.body else ())
    name = decl.name if decl.kind != "method" else base.name
    return replace(decl, name=name, body=body, extends=None)


@dataclass(frozen=True)
class FieldOverride:
    """`--set train.lr=1e-4` (or one point of a sweep): a field entry aimed at a declaration."""

    target: str
    entry: n.Field


def parse_field_override(ctx: Context, text: str, index: int) -> FieldOverride | None:
    """Parse `block.field=value` as recipe syntax; positions refer to a `--set …` line."""
    name, _, value = text.partition("=")
    display = cli_source(index, name, value)
    path = display.path
    # "sweep{" has the length of "--set ", so columns of the parsed text match the shown line.
    parsed, problems = parse(SourceFile(path, f"sweep{{{text}}}"))
    ctx.extra_sources[display.path] = display
    if parsed is None:
        quoted = text.partition("=")
        if quoted[1]:
            escaped = quoted[2].replace("\\", "\\\\").replace('"', '\\"')
            parsed, problems = parse(SourceFile(display.path, f'sweep{{{quoted[0]}="{escaped}"}}'))
    if parsed is None or not parsed.items or not isinstance(parsed.items[0], n.Decl):
        ctx.sink.extend(problems)
        return None
    entry = parsed.items[0].body.entries[0] if parsed.items[0].body else None
    if not isinstance(entry, n.Field) or len(entry.key.parts) != 2:
        ctx.report(
            error(
                "E0403",
                f"`--set {text}` must name `block.field`",
                display.span_at(6, len(text)),
                "expected e.g. `train.lr=1e-4`",
            )
        )
        return None
    target, name = entry.key.parts
    if target not in OVERRIDABLE:
        ctx.report(
            error(
                "E0403",
                f"`{target}` is not a block `--set` can change",
                entry.key.span,
                "not a block",
                help=did_you_mean(target, OVERRIDABLE),
                notes=["blocks: " + ", ".join(OVERRIDABLE) + "; a name without a dot sets a `param`"],
            )
        )
        return None
    field = n.Field(n.Name((name,), entry.key.span), entry.value, entry.span)
    return FieldOverride(target, field)


def apply_field_overrides(ctx: Context, decl: n.Decl, overrides: list[FieldOverride]) -> n.Decl:
    mine = tuple(o.entry for o in overrides if o.target == decl.kind)
    if not mine:
        return decl
    body = amend(ctx, decl.body, mine) or n.Block(mine, decl.span)
    return replace(decl, body=body)


def sweep_points(ctx: Context, decl: n.Decl) -> tuple[list[list[str]], str | None]:
    """The grid of a `sweep` block as lists of `block.field=value` texts, and its ranking metric."""
    axes: list[list[str]] = []
    rank_by = None
    for entry in decl.body.entries if decl.body else ():
        if isinstance(entry, n.Field) and entry.key.dotted == "rank_by" and isinstance(entry.value, n.Name):
            rank_by = entry.value.dotted
            continue
        if (
            not isinstance(entry, n.Field)
            or len(entry.key.parts) != 2
            or not isinstance(entry.value, n.ListExpr)
            or not entry.value.items
        ):
            ctx.report(
                error(
                    "E0201",
                    "a sweep axis is written `block.field = [value, …]`",
                    entry.span,
                    "not an axis",
                    help="e.g. `train.lr = [1e-4, 2e-4]`, and `rank_by = accuracy`",
                )
            )
            continue
        source = ctx.source_text(entry.span.file)
        axes.append([f"{entry.key.dotted}={_text_of(source, item)}" for item in entry.value.items])
    return [list(p) for p in itertools.product(*axes)] if axes else [], rank_by


def _text_of(source: str, node: n.Expr) -> str:
    lines = source.splitlines()
    span = node.span
    if span.line == span.end_line:
        return lines[span.line - 1][span.col - 1 : span.end_col - 1]
    return "\n".join(
        [
            lines[span.line - 1][span.col - 1 :],
            *lines[span.line : span.end_line - 1],
            lines[span.end_line - 1][: span.end_col - 1],
        ]
    )


def override_record(
    ctx: Context, overrides: dict[str, str], fields: list[FieldOverride], params: list[n.ParamDecl]
) -> list[dict[str, str | None]]:
    """Every `--set` as the plan keeps it for the report: the name, the value given and what the
    recipe itself said (None where it said nothing)."""
    recipe_text: dict[str, str | None] = {
        p.name: _text_of(ctx.source_text(p.default.span.file), p.default) for p in params if p.default is not None
    }
    for override in fields:
        replaced = ctx.replaced.get(override.entry.span)
        name = f"{override.target}.{override.entry.key.dotted}"
        if isinstance(replaced, n.Field):
            recipe_text[name] = _text_of(ctx.source_text(replaced.span.file), replaced.value)
    # A secret-named value (`--set api_token=…`) is recorded masked, so plan.json never holds it.
    return [
        {"name": name, "value": str(masked_param(name, value)), "recipe": _masked(name, recipe_text.get(name))}
        for name, value in overrides.items()
    ]


def _masked(name: str, text: str | None) -> str | None:
    return None if text is None else str(masked_param(name, text))
