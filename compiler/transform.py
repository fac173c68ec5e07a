"""Turn Lark's parse tree into typed, span-carrying nodes (see nodes.py)."""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Sequence
from typing import Any

from lark import Token, Transformer, v_args
from lark.tree import Meta

from . import larkload  # noqa: F401  # first: lark without its optional imports
from . import nodes as n
from .source import Span

MAX_DIGITS = 300  # a longer number is no setting, and past 4300 digits Python cannot even print it
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "r": "\r"}


def unescape(body: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), body)


def long_string_value(raw: str) -> str:
    """The text of a triple-quoted string: the first newline and common indent are dropped."""
    body = raw[3:-3]
    if body.startswith("\n"):
        body = body[1:]
    body = textwrap.dedent(body)
    # A closing `"""` on its own line adds no trailing newline.
    lines = body.split("\n")
    if len(lines) > 1 and not lines[-1].strip():
        lines.pop()
    return unescape("\n".join(lines))


@v_args(meta=True)
class ToNodes(Transformer[Token, n.Recipe]):
    """One method per grammar rule; any rule without one fails loudly in `__default__`."""

    def __init__(self, file: str) -> None:
        super().__init__()
        self.file = file
        self.too_large: list[Span] = []

    def __default__(self, data: Any, children: Any, meta: Any) -> Any:
        raise NotImplementedError(f"no node for grammar rule {data!r}")

    def _span(self, meta: Meta) -> Span:
        return Span(self.file, meta.line, meta.column, meta.end_line, meta.end_column)

    def _tok(self, token: Token) -> Span:
        return Span(
            self.file,
            token.line or 1,
            token.column or 1,
            token.end_line or token.line or 1,
            token.end_column or (token.column or 1) + 1,
        )

    # --- top level ---------------------------------------------------------
    def start(self, meta: Meta, items: list[n.Item]) -> n.Recipe:
        return n.Recipe(list(items), file=self.file)

    def recipe_decl(self, meta: Meta, c: list[Any]) -> n.RecipeDecl:
        return n.RecipeDecl(str(c[0]), c[1], self._span(meta), self._tok(c[0]))

    def import_decl(self, meta: Meta, c: list[Any]) -> n.ImportDecl:
        return n.ImportDecl(c[0], c[1], str(c[2]), self._span(meta), self._tok(c[2]))

    def param_decl(self, meta: Meta, c: list[Any]) -> n.ParamDecl:
        return n.ParamDecl(str(c[0]), str(c[1]), c[2], self._span(meta), self._tok(c[0]), self._tok(c[1]))

    def _decl(
        self,
        kind: str,
        meta: Meta,
        name: Token | None,
        source: n.Call | None,
        extends: n.Name | None,
        body: n.Block | None,
    ) -> n.Decl:
        span = self._span(meta)
        name_span = (
            self._tok(name)
            if name is not None
            else Span(self.file, span.line, span.col, span.line, span.col + len(kind))
        )
        return n.Decl(kind, str(name) if name is not None else None, source, extends, body, span, name_span)

    def model_decl(self, meta: Meta, c: list[Any]) -> n.Decl:
        return self._decl("model", meta, c[0], c[1], None, c[2])

    def data_decl(self, meta: Meta, c: list[Any]) -> n.Decl:
        return self._decl("data", meta, c[0], c[1], None, c[2])

    def prompt_decl(self, meta: Meta, c: list[Any]) -> n.Decl:
        return self._decl("prompt", meta, c[0], None, c[1], c[2])

    def method_decl(self, meta: Meta, c: list[Any]) -> n.Decl:
        return self._decl("method", meta, c[0], None, c[1], c[2])

    def train_decl(self, meta: Meta, c: list[Any]) -> n.Decl:
        return self._decl("train", meta, c[0], None, c[1], c[2])

    def eval_decl(self, meta: Meta, c: list[Any]) -> n.Decl:
        return self._decl("eval", meta, c[0], None, c[1], c[2])

    def sweep_decl(self, meta: Meta, c: list[Any]) -> n.Decl:
        return self._decl("sweep", meta, None, None, None, c[0])

    def compute_decl(self, meta: Meta, c: list[Any]) -> n.Decl:
        return self._decl("compute", meta, None, None, None, c[0])

    def extends(self, meta: Meta, c: list[Any]) -> n.Name:
        name: n.Name = c[0]
        return name

    # --- blocks ------------------------------------------------------------
    def block(self, meta: Meta, c: list[Any]) -> n.Block:
        return n.Block(tuple(x for x in c if x is not None), self._span(meta))

    def field(self, meta: Meta, c: list[Any]) -> n.Field:
        return n.Field(c[0], c[1], self._span(meta))

    def statement(self, meta: Meta, c: list[Any]) -> n.Statement:
        return n.Statement(str(c[0]), c[1], tuple(c[2:]), self._span(meta), self._tok(c[0]))

    def qualifier(self, meta: Meta, c: list[Any]) -> n.Qualifier:
        return n.Qualifier(str(c[0]), c[1], self._span(meta), self._tok(c[0]))

    # --- expressions -------------------------------------------------------
    def or_op(self, meta: Meta, c: list[Any]) -> n.BinaryOp:
        return n.BinaryOp("or", c[0], c[1], self._span(meta))

    def and_op(self, meta: Meta, c: list[Any]) -> n.BinaryOp:
        return n.BinaryOp("and", c[0], c[1], self._span(meta))

    def not_op(self, meta: Meta, c: list[Any]) -> n.UnaryOp:
        return n.UnaryOp("not", c[0], self._span(meta))

    def neg_op(self, meta: Meta, c: list[Any]) -> n.UnaryOp:
        return n.UnaryOp("-", c[1], self._span(meta))

    def compare_op(self, meta: Meta, c: list[Any]) -> n.BinaryOp:
        return n.BinaryOp(str(c[1]), c[0], c[2], self._span(meta))

    def in_op(self, meta: Meta, c: list[Any]) -> n.BinaryOp:
        return n.BinaryOp("in", c[0], c[1], self._span(meta))

    arith_op = compare_op

    def call(self, meta: Meta, c: list[Any]) -> n.Call:
        args = tuple(x for x in c[1:] if x is not None and not isinstance(x, n.Keyword))
        kwargs = tuple(x for x in c[1:] if isinstance(x, n.Keyword))
        return n.Call(c[0], args, kwargs, self._span(meta))

    def kwarg(self, meta: Meta, c: list[Any]) -> n.Keyword:
        return n.Keyword(str(c[0]), c[1], self._span(meta), self._tok(c[0]))

    def list(self, meta: Meta, c: list[Any]) -> n.ListExpr:
        return n.ListExpr(tuple(x for x in c if x is not None), self._span(meta))

    def dotted(self, meta: Meta, c: Sequence[Token]) -> n.Name:
        return n.Name(tuple(str(t) for t in c), self._span(meta))

    # --- literals ----------------------------------------------------------
    def string(self, meta: Meta, c: Sequence[Token]) -> n.Literal:
        raw = str(c[0])
        value = long_string_value(raw) if c[0].type == "LONG_STRING" else unescape(raw[1:-1])
        return n.Literal(value, "str", raw, self._span(meta))

    def number(self, meta: Meta, c: Sequence[Token]) -> n.Literal:
        raw = str(c[0])
        digits = raw.replace("_", "")
        if c[0].type == "INT" and len(digits) <= MAX_DIGITS:
            return n.Literal(int(digits), "int", raw, self._span(meta))
        return n.Literal(self._finite(float(digits), meta), "float", raw, self._span(meta))

    def percent(self, meta: Meta, c: Sequence[Token]) -> n.Literal:
        raw = str(c[0])
        return n.Literal(self._finite(float(raw[:-1].replace("_", "")), meta) / 100, "percent", raw, self._span(meta))

    def _finite(self, value: float, meta: Meta) -> float:
        """The value; a number too large for a float (or an int of over MAX_DIGITS digits) is
        noted in `too_large` for the parser to report, and stands as 0 meanwhile."""
        if math.isfinite(value) and abs(value) < 10.0**MAX_DIGITS:
            return value
        self.too_large.append(self._span(meta))
        return 0.0

    def boolean(self, meta: Meta, c: Sequence[Token]) -> n.Literal:
        return n.Literal(c[0].type == "TRUE", "bool", str(c[0]), self._span(meta))
