"""Validate the assembled plan data against the Plan's JSON Schema and turn its errors into diagnostics."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from . import nodes as n
from .context import Context, Loc
from .diagnostics import Diagnostic, Label, error
from .schema_check import validate
from .suggest import did_you_mean
from .values import describe

_EXPECTED = {
    "int_type": "an integer",
    "int_from_float": "an integer",
    "int_parsing": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "`true` or `false`",
    "bool_parsing": "`true` or `false`",
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "a record `{ … }`",
    "model_type": "a record `{ … }`",
    "model_attributes_type": "a record `{ … }`",
}
_BOUNDS = {
    "greater_than": ("greater than", "gt"),
    "greater_than_equal": ("at least", "ge"),
    "less_than": ("less than", "lt"),
    "less_than_equal": ("at most", "le"),
}


def validate_plan(ctx: Context, data: dict[str, Any]) -> dict[str, Any] | None:
    """The plan data if it fits the Plan's schema; else each problem becomes a diagnostic."""
    problems = validate(data)
    for item in problems:
        if not is_knock_on(ctx, item):
            ctx.report(with_replaced(ctx, item, translate(ctx, item)))
    return None if problems else data


def is_knock_on(ctx: Context, item: Any) -> bool:
    """An error caused by one already reported: a missing field after other errors, or the
    use of a parameter whose own declaration failed."""
    if item["type"] == "missing" and ctx.sink.has_errors:
        return True
    try:
        _, node = _origin(ctx, tuple(item["loc"]))
    except KeyError:
        return False
    value = _value_node(node)
    return isinstance(value, n.Name) and value.dotted in ctx.declared_params and value.dotted not in ctx.params


def with_replaced(ctx: Context, item: Any, diagnostic: Diagnostic) -> Diagnostic:
    """A wrong value set by `extends` or `--set` also shows the value it replaced."""
    loc = tuple(item["loc"])
    try:
        _, node = _origin(ctx, loc)
    except KeyError:
        return diagnostic
    span = getattr(node, "span", None)
    old = ctx.replaced.get(span) if span is not None else None
    if old is None:
        return diagnostic
    label = Label(old.span, "replaces the value set here")
    return replace(diagnostic, secondary=(*diagnostic.secondary, label))


def _origin(ctx: Context, loc: Loc) -> tuple[Loc, Any]:
    for end in range(len(loc), -1, -1):
        if loc[:end] in ctx.origins:
            return loc[:end], ctx.origins[loc[:end]]
    raise KeyError(loc)


def _value_node(node: Any) -> n.Expr | None:
    if isinstance(node, n.Field):
        return node.value
    if isinstance(node, n.Statement):
        return node.value
    if isinstance(node, n.Decl):
        return None
    expr: n.Expr = node
    return expr


def _unbound_name_help(ctx: Context, node: n.Expr | None) -> str | None:
    """A lone name that is no parameter: most often a `param` of an imported file, which the
    recipes importing it do not see (params are set per recipe, on its command line)."""
    if not isinstance(node, n.Name) or len(node.parts) != 1 or node.dotted in ctx.declared_params:
        return None
    name = node.dotted
    if not re.search(rf"^param\s+{re.escape(name)}\b", ctx.source_text(node.span.file), re.M):
        return None
    return (
        f"`{name}` is a `param` of {node.span.file}, and an imported file's params are not passed to the "
        f"recipes that import it: declare `param {name}: …` in the importing recipe, or write the value here"
    )


def translate(ctx: Context, item: Any) -> Diagnostic:
    loc = tuple(item["loc"])
    found_loc, node = _origin(ctx, loc)
    field = next((str(p) for p in reversed(loc) if isinstance(p, str)), "value")
    value_node = _value_node(node)
    span = value_node.span if value_node is not None and found_loc == loc else node.span
    kind = item["type"]
    ctx_values = item.get("ctx") or {}
    if kind == "missing":
        where = node.name_span if isinstance(node, n.Decl) else span
        return error(
            "E0106", f"missing field `{field}`", where, f"`{field}` is required here", help=f"add `{field} = …`"
        )
    if kind in _EXPECTED:
        found = describe(value_node) if value_node is not None and found_loc == loc else "something else"
        if isinstance(value_node, n.Name) and value_node.dotted in ctx.params and found_loc == loc:
            found = f"the parameter `{value_node.dotted}` (= {ctx.params[value_node.dotted]!r})"
        return error(
            "E0201",
            f"`{field}` expects {_EXPECTED[kind]}, found {found}",
            span,
            f"expected {_EXPECTED[kind]}",
            help=_unbound_name_help(ctx, value_node) if found_loc == loc else None,
        )
    if kind in _BOUNDS:
        words, key = _BOUNDS[kind]
        return error(
            "E0202",
            f"`{field}` must be {words} {ctx_values.get(key)}",
            span,
            f"this is {item.get('input')!r}".replace("'", "`"),
        )
    if kind == "literal_error":
        expected = ctx_values.get("expected", "")
        choices = [c.strip().strip("'") for c in str(expected).replace(" or ", ",").split(",") if c.strip()]
        value = item.get("input")
        return error(
            "E0203",
            f"`{value}` is not a valid `{field}`",
            span,
            "expected one of: " + ", ".join(choices),
            help=did_you_mean(str(value), choices),
        )
    if kind == "too_short":
        return error("E0202", f"`{field}` must not be empty", span, "empty")
    if kind == "extra_forbidden":
        return error("E0102", f"unknown field `{field}`", span, "not a known field")
    return error("E0201", f"`{field}` has an invalid value", span, item.get("msg", ""))
