"""Syntax-tree nodes of a recipe; every node carries the span it was parsed from."""

from __future__ import annotations

from dataclasses import dataclass, field

from .source import Span

# --- expressions -----------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    """A number, percentage, boolean or string; `raw` is the text as written."""

    value: object
    kind: str  # "int" | "float" | "percent" | "bool" | "str"
    raw: str
    span: Span


@dataclass(frozen=True)
class Name:
    """A name or dotted path: `lr`, `tickets.eval`, `house.lora`."""

    parts: tuple[str, ...]
    span: Span

    @property
    def dotted(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class Keyword:
    name: str
    value: Expr
    span: Span
    name_span: Span


@dataclass(frozen=True)
class Call:
    func: Name
    args: tuple[Expr, ...]
    kwargs: tuple[Keyword, ...]
    span: Span


@dataclass(frozen=True)
class ListExpr:
    items: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True)
class BinaryOp:
    op: str
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True)
class UnaryOp:
    op: str  # "not" | "-"
    operand: Expr
    span: Span


# --- blocks ----------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """`key = value`; the key may be dotted (`train.lr`) inside `sweep`."""

    key: Name
    value: Expr
    span: Span


@dataclass(frozen=True)
class Qualifier:
    name: str
    value: Expr
    span: Span
    name_span: Span


@dataclass(frozen=True)
class Statement:
    """`keyword value qualifier value…`, e.g. `guard jsonl("g.jsonl") max_drop 2%`."""

    name: str
    value: Expr
    qualifiers: tuple[Qualifier, ...]
    span: Span
    name_span: Span


Entry = Field | Statement


@dataclass(frozen=True)
class Block:
    entries: tuple[Entry, ...]
    span: Span


Expr = Literal | Name | Call | ListExpr | BinaryOp | UnaryOp | Block


# --- declarations ----------------------------------------------------------


@dataclass(frozen=True)
class RecipeDecl:
    name: str
    description: Literal | None
    span: Span
    name_span: Span


@dataclass(frozen=True)
class ImportDecl:
    path: Literal
    sha256: Literal | None
    alias: str
    span: Span
    alias_span: Span


@dataclass(frozen=True)
class ParamDecl:
    name: str
    type: str
    default: Expr | None
    span: Span
    name_span: Span
    type_span: Span


@dataclass(frozen=True)
class Decl:
    """`model`, `data`, `prompt`, `method`, `train`, `eval` and `sweep` declarations.

    `name` is the declared name (for `method`, the method kind); `source` is the call after
    `=` for `model` and `data`; `extends` names the block this one amends.
    """

    kind: str
    name: str | None
    source: Call | None
    extends: Name | None
    body: Block | None
    span: Span
    name_span: Span


Item = RecipeDecl | ImportDecl | ParamDecl | Decl


@dataclass(frozen=True)
class Comment:
    text: str
    span: Span


@dataclass
class Recipe:
    items: list[Item]
    comments: list[Comment] = field(default_factory=list)
    file: str = "<recipe>"
