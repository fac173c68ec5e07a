"""Types of `where` expressions (text, number, list, bool), checked before any row is read."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ftlang.plan.catalogue import FILTER_FUNCTIONS

from . import nodes as n
from .diagnostics import Diagnostic, Label, error

TEXT, NUMBER, LIST, BOOL = "text", "number", "list", "bool"
ANY = "any"  # unknown: a field no peeked row shows, a mixed column, or a part already in error

_LITERALS = {"int": NUMBER, "float": NUMBER, "percent": NUMBER, "bool": BOOL, "str": TEXT}
_ORDERED = (NUMBER, TEXT)  # `<` and friends compare numbers with numbers, text with text
_COMPARISONS = ("<", "<=", ">", ">=", "==", "!=")


def value_type(value: object) -> str:
    """The expression type of a plain value: a parameter's, or a data row's field."""
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int | float):
        return NUMBER
    if isinstance(value, str):
        return TEXT
    if isinstance(value, list | tuple):
        return LIST
    return ANY


def field_types(rows: Iterable[Mapping[str, object]]) -> dict[str, str]:
    """Each field's type across the rows read; a field holding several types (or only nulls) is ANY."""
    seen: dict[str, set[str]] = {}
    for row in rows:
        for key, value in row.items():
            kinds = seen.setdefault(key, set())
            if value is not None:
                kinds.add(value_type(value))
    return {key: next(iter(kinds)) if len(kinds) == 1 else ANY for key, kinds in seen.items()}


def _a(kind: str) -> str:
    return {TEXT: "text", NUMBER: "a number", LIST: "a list", BOOL: "true/false"}.get(kind, kind)


def check_filter(node: n.Expr, params: Mapping[str, Any], fields: Mapping[str, str]) -> list[Diagnostic]:
    """Every type mistake in one `where` expression; it must give true/false."""
    typer = _Typer(params, fields)
    result = typer.type_of(node)
    if result not in (BOOL, ANY):
        typer.problems.append(
            error(
                "E0210",
                f"a `where` filter must give true/false, this gives {_a(result)}",
                node.span,
                f"{_a(result)}, not true/false",
                help="compare it with something, e.g. `where len(body) < 400`",
            )
        )
    return typer.problems


class _Typer:
    """Infers the type of each sub-expression, reporting a mistake once where it is made.

    A part in error has type ANY, so its parents do not report the same mistake again.
    """

    def __init__(self, params: Mapping[str, Any], fields: Mapping[str, str]):
        self.params, self.fields = params, fields
        self.problems: list[Diagnostic] = []

    def type_of(self, node: n.Expr) -> str:
        if isinstance(node, n.Literal):
            return _LITERALS.get(node.kind, ANY)
        if isinstance(node, n.Name):
            if len(node.parts) == 1 and node.parts[0] in self.params:
                return value_type(self.params[node.parts[0]])
            return self.fields.get(node.dotted, ANY)
        if isinstance(node, n.ListExpr):
            return LIST
        if isinstance(node, n.Call):
            return self._call(node)
        if isinstance(node, n.UnaryOp):
            operand = self.type_of(node.operand)
            if node.op == "not":
                return self._expect(operand, BOOL, node.operand, "E0213", "`not` needs true/false")
            return self._expect(operand, NUMBER, node.operand, "E0214", "`-` needs a number")
        if isinstance(node, n.BinaryOp):
            return self._binary(node, self.type_of(node.left), self.type_of(node.right))
        return ANY

    def _expect(self, got: str, wanted: str, node: n.Expr, code: str, message: str) -> str:
        if got not in (wanted, ANY):
            help_ = 'compare it to get true/false, e.g. `team == "billing"`' if wanted == BOOL else None
            self.problems.append(error(code, f"{message}, found {_a(got)}", node.span, _a(got), help=help_))
            return ANY
        return wanted

    def _call(self, node: n.Call) -> str:
        spec = FILTER_FUNCTIONS.get(node.func.dotted)
        if spec is None or node.kwargs or len(node.args) != len(spec.arguments):
            return ANY  # reported as an unknown function or a bad call
        ok = True
        for arg, accepted in zip(node.args, spec.arguments, strict=True):
            got = self.type_of(arg)
            allowed = accepted.split("|")
            if got != ANY and accepted != ANY and got not in allowed:
                ok = False
                wanted = " or ".join(_a(kind) for kind in allowed)
                self.problems.append(
                    error(
                        "E0212",
                        f"`{spec.name}(…)` takes {wanted}, found {_a(got)}",
                        arg.span,
                        _a(got),
                        notes=[f"{spec.name}(x): {spec.summary}"],
                    )
                )
        return spec.result if ok else ANY

    def _binary(self, node: n.BinaryOp, left: str, right: str) -> str:
        if node.op in ("and", "or"):
            self._expect(left, BOOL, node.left, "E0213", f"`{node.op}` needs true/false on both sides")
            self._expect(right, BOOL, node.right, "E0213", f"`{node.op}` needs true/false on both sides")
            return BOOL
        if ANY in (left, right):
            return BOOL if node.op in (*_COMPARISONS, "in") else ANY
        if node.op in _COMPARISONS:
            return self._compare(node, left, right)
        if node.op == "in":
            return self._contains(node, left, right)
        return self._arithmetic(node, left, right)

    def _arithmetic(self, node: n.BinaryOp, left: str, right: str) -> str:
        if node.op == "+" and TEXT in (left, right):
            if left == right:
                return TEXT
            wanted, message = TEXT, "`+` joins text to text"
        else:
            wanted, message = NUMBER, "`+` adds numbers" if node.op == "+" else f"`{node.op}` needs numbers"
        for side, kind in ((node.left, left), (node.right, right)):
            if kind != wanted:
                return self._expect(kind, wanted, side, "E0214", message)
        return NUMBER

    def _compare(self, node: n.BinaryOp, left: str, right: str) -> str:
        ordering = node.op not in ("==", "!=")
        if left == right and (left in _ORDERED or not ordering):
            return BOOL
        if left == right:
            message = f"`{node.op}` orders numbers or text, not {_a(left)}s"
        else:
            message = f"`{node.op}` compares {_a(left)} with {_a(right)}"
        self.problems.append(
            error(
                "E0211",
                message,
                node.right.span,
                _a(right),
                secondary=[Label(node.left.span, _a(left))],
                notes=[] if ordering else ["`==` and `!=` compare two values of one type"],
                help="compare numbers with numbers and text with text, e.g. `len(body) < 400`",
            )
        )
        return BOOL

    def _contains(self, node: n.BinaryOp, left: str, right: str) -> str:
        if right == LIST or (right == TEXT and left == TEXT):
            return BOOL
        where = node.right if right not in (TEXT, LIST) else node.left
        self.problems.append(
            error(
                "E0215",
                f"`in` looks for text in text or a value in a list, not {_a(left)} in {_a(right)}",
                where.span,
                _a(right if where is node.right else left),
                help='e.g. `where "refund" in lower(body)` or `where team in ["billing", "shipping"]`',
            )
        )
        return BOOL
