"""Format .ft recipes into their one canonical layout, checked to keep the tree (like black).

There are no options. The layout, item by item:

* Indentation is two spaces; lines are kept within 100 columns where a break can help.
* Top level: items stay in source order. Consecutive blockless items of one keyword
  (`import`, `param`, `recipe`, or `model`/`data`/`method` without a block) stay together
  with no blank line; every other pair of items gets exactly one blank line between them.
* Declaration blocks: `{` on the header line, one entry per line, `}` alone on its line;
  an empty block prints `{}`; a `method full` without a block stays without one.
* A record that is a value (`split { train = 90%, eval = 10% } seed 7`) stays on one line,
  `{ a = 1, b = 2 }`, when it fits; otherwise one entry per line. Inside `( )` or `[ ]`
  newlines do not separate entries (the lexer drops them there), so such a record, when
  split, ends every entry with a comma; elsewhere it uses no commas, like a declaration.
* Lists and calls stay on one line when they fit, else one item per line, each followed by
  a comma (the last one too). Fitting is decided outside-in, black's way: the outer bracket
  splits first and what is inside tries again at its new place. Other expressions are
  never split (a newline is only allowed inside brackets).
* Spacing: one space around `=` (fields and call keywords alike: `f(a, k = v)`), after `,`
  and `:` (`param lr: float`), and around binary operators (`a * b`, `x in y`); none inside
  `( )` or `[ ]`, one inside a one-line record `{ a = 1 }`; `-x` and `not x` as shown. A
  statement is `name value qualifier value`, single spaces (no column alignment).
* Parentheses are printed only where precedence needs them (`(a and b) or c` becomes
  `a and b or c`; `not (a == b)` becomes `not a == b`; `a - (b - c)` stays).
* Literals are printed as written (`Literal.raw`): numbers keep their spelling (`2E-4`,
  `1_000`), strings their escapes, and a triple-quoted string its every character - only
  where its opening `\"\"\"` stands may move. Only the first line of such a string counts
  toward the width. `\\r\\n` line ends are read as `\\n` (in strings too); output uses `\\n`.
* Calls keep their arguments in source order (a keyword may come before a positional one).
* Blank lines: at most one anywhere; none right after an opening bracket or at the start
  of the file. Inside blocks, lists and calls a blank line between two entries is kept (one)
  when the sequence is split; blank lines between comments and around them are kept (one).
* Comments are kept, attached by position (see `format_doc`): a comment on its own line
  stays before the entry or item after it, at its indentation; a trailing comment stays at
  the end of the line of the entry it follows, two spaces before `#` (and does not count
  toward the width); a comment right after `{`, `[` or `(` stays there; comments before a
  closing bracket stay inside it, and those at the end of the file at the end. A comment
  anywhere inside a sequence splits it. A comment inside an expression, in no sequence,
  moves to the line before the entry holding it. The file ends with exactly one newline.

Every run is checked: the output parses to the same tree (spans aside, see `strip_spans`)
with the same comments, and formatting it again changes nothing; otherwise FormatterBug.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from . import nodes as n
from .diagnostics import Diagnostic
from .format_doc import (
    BREAK,
    HARD,
    LINE,
    SOFT,
    Bracketed,
    Comments,
    Doc,
    IfBreak,
    Indent,
    Trailing,
    attach,
    elements,
    group,
    render,
)
from .parser import nested_too_deeply, parse
from .source import SourceFile

__all__ = ["FormatResult", "FormatterBug", "format_recipe", "format_source", "strip_spans"]


@dataclass(frozen=True)
class FormatResult:
    """The formatted text, or None with the parse errors that stopped formatting."""

    text: str | None
    diagnostics: list[Diagnostic]


class FormatterBug(Exception):
    """The formatter broke its own promise (changed the tree or is unstable): not a user error."""


def format_source(text: str, path: str = "<recipe>") -> FormatResult:
    """Parse and format; on parse errors, no text and the diagnostics (FormatterBug is ours)."""
    text = text.replace("\r\n", "\n")
    recipe, diagnostics = parse(SourceFile(path, text))
    if recipe is None:
        return FormatResult(None, diagnostics)
    try:
        return FormatResult(format_recipe(recipe, text), [])
    except RecursionError:  # a chain of operators too long to lay out
        return FormatResult(None, [nested_too_deeply(SourceFile(path, text))])


def format_recipe(recipe: n.Recipe, source_text: str) -> str:
    """The canonical text of `recipe`, parsed from `source_text` (which places its comments)."""
    text = _layout(recipe, source_text)
    _check(recipe, text)
    return text


def strip_spans(node: Any) -> Any:
    """A node as plain tuples and dicts without spans, to compare two trees."""
    if isinstance(node, n.Recipe):
        return tuple(strip_spans(item) for item in node.items)
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        fields = {
            f.name: strip_spans(getattr(node, f.name))
            for f in dataclasses.fields(node)
            if f.name != "span" and not f.name.endswith("_span")
        }
        return (type(node).__name__, fields)
    if isinstance(node, (list, tuple)):
        return tuple(strip_spans(x) for x in node)
    return node


def _check(recipe: n.Recipe, text: str) -> None:
    again, diagnostics = parse(SourceFile(recipe.file, text))
    if again is None:
        first = diagnostics[0]
        raise FormatterBug(f"formatted text does not parse: {first.message} at line {first.span.line}")
    if strip_spans(again) != strip_spans(recipe):
        raise FormatterBug("formatting changed the syntax tree")
    if sorted(c.text for c in again.comments) != sorted(c.text for c in recipe.comments):
        raise FormatterBug("formatting lost or changed a comment")
    if _layout(again, text) != text:
        raise FormatterBug("formatting is not stable: a second run changes the text")


def _layout(recipe: n.Recipe, source_text: str) -> str:
    return render(_Builder(attach(recipe, source_text)).recipe(recipe))


# --- precedence --------------------------------------------------------------

_PREC = {"or": 1, "and": 2, "in": 4, "==": 4, "!=": 4, "<": 4, "<=": 4, ">": 4, ">=": 4, "+": 5, "-": 5, "*": 6, "/": 6}
# The least precedence each side of an operator takes without parentheses (grammar rules:
# `or_expr "or" and_expr`, `sum COMPARE sum`, `sum ADD product`, `product MUL unary`, ...).
_SIDES = {1: (1, 2), 2: (2, 3), 4: (5, 5), 5: (5, 6), 6: (6, 7)}
_NOT, _NEG, _ATOM = 3, 7, 8


def _prec(expr: n.Expr) -> int:
    if isinstance(expr, n.BinaryOp):
        return _PREC[expr.op]
    if isinstance(expr, n.UnaryOp):
        return _NOT if expr.op == "not" else _NEG
    return _ATOM


# --- layout ------------------------------------------------------------------


def _blockless_keyword(item: n.Item) -> str | None:
    """The keyword of a one-line item (one without a declaration block), else None."""
    if isinstance(item, n.RecipeDecl):
        return "recipe"
    if isinstance(item, n.ImportDecl):
        return "import"
    if isinstance(item, n.ParamDecl):
        return "param"
    return item.kind if item.body is None else None


def _blank_between_items(a: n.Item, b: n.Item) -> bool:
    keyword = _blockless_keyword(a)
    return keyword is None or keyword != _blockless_keyword(b)


class _Builder:
    """Builds the document of a recipe; `bracketed` means inside `( )` or `[ ]` in the output."""

    def __init__(self, comments: Comments) -> None:
        self.comments = comments

    def recipe(self, recipe: n.Recipe) -> Doc:
        parts: list[Doc] = []
        items = recipe.items
        for i, item in enumerate(items):
            if i > 0:
                parts.append([HARD, HARD] if _blank_between_items(items[i - 1], item) else HARD)
            parts += self.leading(item)
            parts += [self.item(item), *self.trailing(item)]
        for note in self.comments.dangling.get(id(recipe), []):
            if parts:
                parts.append([HARD, HARD] if note.blank else HARD)
            parts.append(note.text)
        if parts:
            parts.append(HARD)
        return parts

    def leading(self, node: object) -> list[Doc]:
        parts: list[Doc] = []
        for note in self.comments.leading.get(id(node), []):
            parts += [HARD] if note.blank else []
            parts += [note.text, HARD]
        if id(node) in self.comments.blank_after_comments:
            parts.append(HARD)
        return parts

    def trailing(self, node: object) -> list[Doc]:
        return [[Trailing("  " + note.text), BREAK] for note in self.comments.trailing.get(id(node), [])]

    def item(self, item: n.Item) -> Doc:
        if isinstance(item, n.RecipeDecl):
            return ["recipe ", item.name, " " + item.description.raw if item.description else ""]
        if isinstance(item, n.ImportDecl):
            sha = f" sha256 {item.sha256.raw}" if item.sha256 else ""
            return f"import {item.path.raw}{sha} as {item.alias}"
        if isinstance(item, n.ParamDecl):
            default = [" = ", self.expr(item.default, False)] if item.default is not None else ""
            return [f"param {item.name}: {item.type}", default]
        parts: list[Doc] = [item.kind]
        if item.name is not None:
            parts.append(" " + item.name)
        if item.source is not None:
            parts += [" = ", self.expr(item.source, False)]
        if item.extends is not None:
            parts.append(" extends " + item.extends.dotted)
        if item.body is not None:
            parts += [" ", self.block(item.body, bracketed=False, declaration=True)]
        return parts

    def sequence(
        self, node: Bracketed, opener: str, closer: str, docs: list[Doc], *, edge: Doc, comma: str, force: bool = False
    ) -> Doc:
        """A bracketed sequence: one line if it fits (and holds no comment), else one element a line.

        `edge` is the line inside each bracket (a space or nothing when flat); `comma` ends each
        element when split (elements are always comma-separated when flat).
        """
        elems = elements(node)
        comments = self.comments
        inner: list[Doc] = []
        for i, (elem, doc) in enumerate(zip(elems, docs)):
            if i == 0:
                inner.append(edge)
            else:
                inner.append([LINE, IfBreak(HARD)] if id(elem) in comments.blank_before else LINE)
            inner += self.leading(elem)
            last = i == len(elems) - 1
            inner += [doc, IfBreak(comma, "" if last else ","), *self.trailing(elem)]
        for note in comments.dangling.get(id(node), []):
            inner += [HARD, HARD, note.text] if note.blank else [HARD, note.text]
        if not elems:
            edge = SOFT
        head: list[Doc] = [opener]
        for note in comments.opening.get(id(node), []):
            line: list[Doc] = [Trailing("  " + note.text), BREAK]
            head.append(line)
        return group(*head, Indent(inner), edge, closer, BREAK if force and elems else "")

    def block(self, block: n.Block, *, bracketed: bool, declaration: bool = False) -> Doc:
        docs = [self.entry(entry, bracketed) for entry in block.entries]
        return self.sequence(block, "{", "}", docs, edge=LINE, comma="," if bracketed else "", force=declaration)

    def entry(self, entry: n.Entry, bracketed: bool) -> Doc:
        if isinstance(entry, n.Field):
            return [entry.key.dotted, " = ", self.expr(entry.value, bracketed)]
        parts: list[Doc] = [entry.name, " ", self.expr(entry.value, bracketed)]
        for qualifier in entry.qualifiers:
            parts += [" ", qualifier.name, " ", self.expr(qualifier.value, bracketed)]
        return parts

    def expr(self, expr: n.Expr, bracketed: bool) -> Doc:
        if isinstance(expr, n.Literal):
            return expr.raw
        if isinstance(expr, n.Name):
            return expr.dotted
        if isinstance(expr, n.Call):
            docs = [
                [a.name, " = ", self.expr(a.value, True)] if isinstance(a, n.Keyword) else self.expr(a, True)
                for a in elements(expr)
            ]
            return self.sequence(expr, expr.func.dotted + "(", ")", docs, edge=SOFT, comma=",")
        if isinstance(expr, n.ListExpr):
            docs = [self.expr(item, True) for item in expr.items]
            return self.sequence(expr, "[", "]", docs, edge=SOFT, comma=",")
        if isinstance(expr, n.Block):
            return self.block(expr, bracketed=bracketed)
        if isinstance(expr, n.BinaryOp):
            left, right = _SIDES[_PREC[expr.op]]
            return [
                self.operand(expr.left, left, bracketed),
                f" {expr.op} ",
                self.operand(expr.right, right, bracketed),
            ]
        if expr.op == "not":
            return ["not ", self.operand(expr.operand, _NOT, bracketed)]
        return ["-", self.operand(expr.operand, _NEG, bracketed)]

    def operand(self, expr: n.Expr, least: int, bracketed: bool) -> Doc:
        if _prec(expr) < least:
            return ["(", self.expr(expr, True), ")"]
        return self.expr(expr, bracketed)
