"""A small, safe evaluator for the `where` expression trees of a data declaration."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


class ExprError(Exception):
    """The expression cannot be evaluated on this row (a missing field, a type clash)."""


_MISSING = object()


def _call_len(x: Any) -> int:
    if isinstance(x, (str, list, dict)):
        return len(x)
    raise ExprError(f"len() needs text or a list, got {_type(x)}")


def _text_fn(name: str) -> Callable[[Any], str]:
    def fn(x: Any) -> str:
        if not isinstance(x, str):
            raise ExprError(f"{name}() needs text, got {_type(x)}")
        return getattr(x, name)()

    return fn


_CALLS: dict[str, Callable[[Any], Any]] = {
    "len": _call_len,
    "lower": _text_fn("lower"),
    "upper": _text_fn("upper"),
    "strip": _text_fn("strip"),
}


def _type(x: Any) -> str:
    if x is None:
        return "null"
    if isinstance(x, bool):
        return "bool"
    if isinstance(x, (int, float)):
        return "number"
    if isinstance(x, str):
        return "text"
    if isinstance(x, list):
        return "list"
    return type(x).__name__


def _number(x: Any, op: str) -> float | int:
    # bool is an int in Python; `true + 1` is a type error in a recipe.
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise ExprError(f"`{op}` needs numbers, got {_type(x)}")
    return x


def _compare(op: str, a: Any, b: Any) -> bool:
    if op in ("==", "!="):
        return (a == b) if op == "==" else (a != b)
    # Ordering only within one kind: numbers with numbers, text with text.
    both_num = (
        not isinstance(a, bool)
        and not isinstance(b, bool)
        and isinstance(a, (int, float))
        and isinstance(b, (int, float))
    )
    if not (both_num or (isinstance(a, str) and isinstance(b, str))):
        raise ExprError(f"cannot compare {_type(a)} {op} {_type(b)}")
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def evaluate(node: Any, row: Mapping[str, Any]) -> Any:
    """Evaluate one expression tree on one row; raise ExprError for row-level failures.

    Trees: {"field": name}, {"lit": value}, {"call": fn, "args": [...]},
    {"op": op, "args": [...]}. Anything else is a malformed plan (ValueError: a bug
    upstream, since the compiler builds these trees).
    """
    if not isinstance(node, dict):
        raise ValueError(f"not an expression node: {node!r}")
    if "field" in node:
        value = row.get(node["field"], _MISSING)
        if value is _MISSING:
            raise ExprError(f"the row has no field `{node['field']}`")
        return value
    if "lit" in node:
        return node["lit"]
    if "call" in node:
        fn = _CALLS.get(node["call"])
        if fn is None:
            raise ValueError(f"unknown function in where: {node['call']!r}")
        args = [evaluate(a, row) for a in node.get("args", [])]
        if len(args) != 1:
            raise ValueError(f"{node['call']}() takes one argument, got {len(args)}")
        return fn(args[0])
    if "op" in node:
        return _apply(node["op"], node.get("args", []), row)
    raise ValueError(f"not an expression node: {node!r}")


def _apply(op: str, args: list[Any], row: Mapping[str, Any]) -> Any:
    # and/or short-circuit so `x != null and len(x) < 10` works on rows with nulls.
    if op == "and":
        return all(_truth(evaluate(a, row), op) for a in args)
    if op == "or":
        return any(_truth(evaluate(a, row), op) for a in args)
    values = [evaluate(a, row) for a in args]
    if op == "not":
        (v,) = values
        return not _truth(v, op)
    if len(values) != 2:
        raise ValueError(f"`{op}` takes two operands, got {len(values)}")
    a, b = values
    if op in ("<", "<=", ">", ">=", "==", "!="):
        return _compare(op, a, b)
    if op == "in":
        if isinstance(b, str) and isinstance(a, str):
            return a in b
        if isinstance(b, list):
            return a in b
        raise ExprError(f"`in` needs text in text or a value in a list, got {_type(a)} in {_type(b)}")
    if op == "+" and isinstance(a, str) and isinstance(b, str):
        return a + b
    if op in ("+", "-", "*", "/"):
        x, y = _number(a, op), _number(b, op)
        if op == "/":
            if y == 0:
                raise ExprError("division by zero")
            return x / y
        return x + y if op == "+" else x - y if op == "-" else x * y
    raise ValueError(f"unknown operator in where: {op!r}")


def _truth(v: Any, op: str) -> bool:
    if not isinstance(v, bool):
        raise ExprError(f"`{op}` needs true/false, got {_type(v)}")
    return v


def matches(filters: list[dict[str, Any]], row: Mapping[str, Any]) -> bool:
    """True when every filter holds; a filter must give a bool."""
    for f in filters:
        v = evaluate(f, row)
        if not isinstance(v, bool):
            raise ExprError(f"a where filter must give true/false, got {_type(v)}")
        if not v:
            return False
    return True
