"""Turn expression nodes into plain values: literals, symbols, params, records, filters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ftlang.plan.catalogue import FILTER_FUNCTIONS

from . import nodes as n


@dataclass(frozen=True)
class Symbol:
    """A bare name that is not a parameter: a choice such as `cosine` or a module `q_proj`."""

    name: str


def describe(node: n.Expr) -> str:
    """How an error message names what the user wrote."""
    if isinstance(node, n.Literal):
        return {
            "int": "the integer",
            "float": "the number",
            "percent": "the percentage",
            "bool": "the boolean",
            "str": "the string",
        }[node.kind] + f" `{_short(node.raw)}`"
    if isinstance(node, n.Name):
        return f"the name `{node.dotted}`"
    if isinstance(node, n.Call):
        return f"a call of `{node.func.dotted}(…)`"
    if isinstance(node, n.ListExpr):
        return "a list"
    if isinstance(node, n.Block):
        return "a record `{ … }`"
    return "an expression"


def _short(text: str) -> str:
    text = text.replace("\n", "⏎")
    return text if len(text) <= 40 else text[:37] + "…"


def plain(node: n.Expr, params: dict[str, Any]) -> Any:
    """The value of a literal-like expression; names become params or `Symbol`s.

    Calls and operators have no plain value; the caller decides what they mean and gets
    `node` back unchanged for them.
    """
    if isinstance(node, n.Literal):
        return node.value
    if isinstance(node, n.Name):
        if len(node.parts) == 1 and node.parts[0] in params:
            return params[node.parts[0]]
        return Symbol(node.dotted)
    if isinstance(node, n.ListExpr):
        return [plain(item, params) for item in node.items]
    if (
        isinstance(node, n.UnaryOp)
        and node.op == "-"
        and isinstance(node.operand, n.Literal)
        and isinstance(node.operand.value, int | float)
        and node.operand.kind in ("int", "float", "percent")
    ):
        return -node.operand.value
    return node


def unwrap(value: Any) -> Any:
    """Symbols become their names, for the Plan (which stores choices as strings)."""
    if isinstance(value, Symbol):
        return value.name
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def filter_tree(
    node: n.Expr, params: dict[str, Any], fields: set[str] | None, problems: list[tuple[str, n.Expr]]
) -> dict[str, Any]:
    """A `where` expression as the JSON tree the runtime evaluates; problems are collected."""
    if isinstance(node, n.Literal):
        return {"lit": node.value}
    if isinstance(node, n.Name):
        name = node.dotted
        if len(node.parts) == 1 and name in params:
            return {"lit": params[name]}
        if fields is not None and name not in fields:
            problems.append(("field", node))
        return {"field": name}
    if isinstance(node, n.ListExpr):
        return {"lit": [plain(i, params) if isinstance(i, n.Literal) else None for i in node.items]}
    if isinstance(node, n.Call):
        func = node.func.dotted
        if func not in FILTER_FUNCTIONS or node.kwargs or len(node.args) != len(FILTER_FUNCTIONS[func].arguments):
            problems.append(("call", node))
        return {"call": func, "args": [filter_tree(a, params, fields, problems) for a in node.args]}
    if isinstance(node, n.BinaryOp):
        return {
            "op": node.op,
            "args": [
                filter_tree(node.left, params, fields, problems),
                filter_tree(node.right, params, fields, problems),
            ],
        }
    if isinstance(node, n.UnaryOp):
        operand = filter_tree(node.operand, params, fields, problems)
        # Negation travels as `0 - x`, so the runtime needs no unary minus of its own.
        return {"op": "not", "args": [operand]} if node.op == "not" else {"op": "-", "args": [{"lit": 0}, operand]}
    problems.append(("value", node))
    return {"lit": None}
