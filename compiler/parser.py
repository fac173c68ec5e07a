"""Parse .ft text into syntax-tree nodes, turning Lark's errors into located diagnostics."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from importlib import resources

from lark import Lark, Token, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from .diagnostics import Diagnostic, error
from .nodes import Comment, Recipe
from .source import SourceFile, Span
from .transform import ToNodes

_OPENERS = {"LPAR": 1, "LSQB": 1, "RPAR": -1, "RSQB": -1}


class _WrapLines:
    """Drop newlines inside ( ) and [ ] so calls and lists may span lines."""

    always_accept = ("_NL",)

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        depth = 0
        for token in stream:
            if token.type == "_NL" and depth > 0:
                continue
            depth = max(0, depth + _OPENERS.get(token.type, 0))
            yield token


@lru_cache(maxsize=1)
def _grammar_text() -> str:
    return resources.files("ftlang.grammar").joinpath("ftlang.lark").read_text(encoding="utf-8")


def build_parser(*, strict: bool = False) -> Lark:
    """A fresh LALR parser; `strict` makes grammar conflicts fail (used by a test)."""
    return Lark(_grammar_text(), parser="lalr", lexer="contextual", propagate_positions=True,
                maybe_placeholders=True, postlex=_WrapLines(), cache=not strict, strict=strict)


@lru_cache(maxsize=1)
def _cached_parser() -> Lark:
    return build_parser()


def parse(source: SourceFile) -> tuple[Recipe | None, list[Diagnostic]]:
    """The recipe's nodes, or None with every parse error found (one per broken item)."""
    try:
        tree = _cached_parser().parse(source.text)
    except UnexpectedInput:
        return None, _errors_by_item(source)
    recipe = ToNodes(source.path).transform(tree)
    recipe.comments = [Comment(text, source.span_at(offset, len(text)))
                       for offset, text in _comments(source.text)]
    return recipe, []


_COMMENT = re.compile(r'"""(?:[^"\\]|\\.|"(?!""))*"""|"(?:[^"\\\n]|\\.)*"|(#[^\n]*)', re.S)


def _comments(text: str) -> Iterator[tuple[int, str]]:
    """Comments with their offsets; strings are skipped so a `#` inside one is not a comment."""
    for match in _COMMENT.finditer(text):
        if match.group(1):
            yield match.start(1), match.group(1).rstrip()


# A line that begins a top-level item; parsing item by item lets one run report an error
# in each broken item instead of stopping at the first.
_ITEM_START = re.compile(r"^(recipe|import|param|model|data|prompt|method|train|eval|sweep)\b", re.M)


def _errors_by_item(source: SourceFile) -> list[Diagnostic]:
    starts = [m.start() for m in _ITEM_START.finditer(source.text)] or [0]
    if starts[0] != 0:
        starts.insert(0, 0)
    diagnostics: list[Diagnostic] = []
    parser = _cached_parser()
    for begin, end in zip(starts, [*starts[1:], len(source.text)]):
        # Padding with newlines keeps every line and column where it is in the file.
        chunk = "\n" * source.text.count("\n", 0, begin) + source.text[begin:end]
        try:
            parser.parse(chunk)
        except UnexpectedInput as exc:
            diagnostics.append(_to_diagnostic(exc, source))
    if not diagnostics:  # the whole failed but no item alone did: report the whole's error
        try:
            parser.parse(source.text)
        except UnexpectedInput as exc:
            diagnostics.append(_to_diagnostic(exc, source))
    return diagnostics


_HUMAN = {
    "NAME": "a name", "STRING": "a string", "LONG_STRING": "a string", "INT": "a number",
    "FLOAT": "a number", "PERCENT": "a percentage", "TRUE": "`true`", "FALSE": "`false`",
    "LBRACE": "`{`", "RBRACE": "`}`", "LPAR": "`(`", "RPAR": "`)`", "LSQB": "`[`", "RSQB": "`]`",
    "EQUAL": "`=`", "COMMA": "`,`", "COLON": "`:`", "DOT": "`.`", "_NL": "a new line",
    "$END": "the end of the file", "COMPARE": "a comparison", "ADD": "`+`", "SUB": "`-`",
    "MUL": "`*` or `/`", "_SHA256": "`sha256`", "AS": "`as`", "EXTENDS": "`extends`",
}
_VALUE_STARTS = {"STRING", "LONG_STRING", "INT", "FLOAT", "PERCENT", "TRUE", "FALSE", "LSQB", "NAME"}
_DECLARATIONS = ("recipe", "import", "param", "model", "data", "prompt", "method", "train", "eval", "sweep")


def _describe_expected(expected: set[str]) -> str:
    names = set(expected)
    words: list[str] = []
    if len(names & _VALUE_STARTS) >= 4:
        words.append("a value")
        names -= _VALUE_STARTS | {"LBRACE", "LPAR", "SUB", "NOT"}
    if {"RECIPE", "MODEL", "DATA"} <= names:
        words.append("a declaration (" + ", ".join(f"`{d}`" for d in _DECLARATIONS) + ")")
        names -= {d.upper() for d in _DECLARATIONS}
    for name in sorted(names):
        word = _HUMAN.get(name) or (f"`{name.lower()}`" if name.isalpha() else name)
        if word not in words:
            words.append(word)
    if len(words) > 4:
        words = words[:4] + ["…"]
    return ", ".join(words[:-1]) + (" or " if len(words) > 1 else "") + words[-1] if words else "something else"


def _found(token: Token) -> str:
    if token.type == "$END":
        return "the end of the file"
    if token.type == "_NL":
        return "the end of the line"
    if token.type in ("STRING", "LONG_STRING"):
        return "a string"
    return f"`{token.value}`"


def _to_diagnostic(exc: UnexpectedInput, source: SourceFile) -> Diagnostic:
    if isinstance(exc, UnexpectedCharacters):
        return _bad_character(exc, source)
    if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        offset = len(source.text.rstrip())
        span = source.span_at(max(offset - 1, 0))
        expected = getattr(exc, "expected", set())
        help_ = "every `{` needs a matching `}`" if "RBRACE" in expected else None
        return error("E0002", "the recipe ends too early", span,
                     f"expected {_describe_expected(set(expected))} after this", help=help_)
    assert isinstance(exc, UnexpectedToken)
    token = exc.token
    line = token.line or 1
    col = token.column or 1
    if token.type == "_NL":
        # The newline token starts at the end of the line: point just past the last character.
        text = source.line_text(line)
        span = Span(source.path, line, len(text) + 1, line, len(text) + 2)
    else:
        span = Span(source.path, line, col, token.end_line or line, token.end_column or col + 1)
    expected = set(exc.expected)
    return error("E0001", f"unexpected {_found(token)}", span,
                 f"expected {_describe_expected(expected)}", help=_parse_help(token, expected))


def _parse_help(token: Token, expected: set[str]) -> str | None:
    if token.type == "COLON" or (token.type == "NAME" and "EQUAL" in expected and token.value == ":"):
        return "fields are written `name = value`"
    if token.type == "NAME" and ("COMMA" in expected or "_NL" in expected) and "EQUAL" not in expected:
        return "put a new line or a `,` between two entries"
    if token.type == "EQUAL" and "COLON" in expected:
        return "a parameter is declared `param name: type = default`"
    if token.type == "_NL" and "RBRACE" in expected:
        return None
    if token.type == "NAME" and {"RECIPE", "MODEL"} <= expected:
        return "a recipe is made of declarations; each starts a line with one of the keywords above"
    return None


def _bad_character(exc: UnexpectedCharacters, source: SourceFile) -> Diagnostic:
    char = source.text[exc.pos_in_stream] if exc.pos_in_stream < len(source.text) else ""
    line, col = exc.line, exc.column
    if char == '"':
        text = source.line_text(line)
        span = Span(source.path, line, col, line, len(text) + 1)
        return error("E0003", "this string is never closed", span, "the string starts here",
                     help='close it with `"` on the same line, or use `"""` for text over several lines')
    span = Span(source.path, line, col, line, col + 1)
    help_ = None
    if char == "'":
        help_ = 'strings use double quotes: "…"'
    elif char == ";":
        help_ = "entries are separated by new lines or commas"
    return error("E0001", f"unexpected character `{char}`", span, "not valid here", help=help_)
