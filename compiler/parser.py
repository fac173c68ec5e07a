"""Parse .ft text into syntax-tree nodes, turning Lark's errors into located diagnostics."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from lark import Lark, Token, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.exceptions import VisitError

from ftlang.plan.declarations import DECLARATIONS

from . import larkload  # noqa: F401  # first: lark without its optional imports
from .diagnostics import Diagnostic, Label, error
from .lexicon import ANY_STRING, KEYWORD, KEYWORDS, LONG_STRING, grammar_text
from .nodes import Comment, Recipe
from .parse_words import describe_expected, describe_found, expected_tokens
from .source import SourceFile, Span
from .suggest import did_you_mean
from .transform import MAX_DIGITS, ToNodes

_OPENERS = {"LPAR", "LSQB", "LBRACE"}
_CLOSERS = {"RPAR", "RSQB", "RBRACE"}


class _WrapLines:
    """Drop newlines inside ( ) and [ ] so calls and lists may span lines; inside { } they
    separate entries, also in a record that stands within brackets."""

    always_accept = ("_NL",)

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        open_brackets: list[str] = []
        for token in stream:
            if token.type == "_NL" and open_brackets and open_brackets[-1] != "LBRACE":
                continue
            if token.type in _OPENERS:
                open_brackets.append(token.type)
            elif token.type in _CLOSERS and open_brackets:
                open_brackets.pop()
            yield token


def build_parser(*, strict: bool = False) -> Lark:
    """A fresh LALR parser; `strict` makes grammar conflicts fail (used by a test)."""
    return Lark(
        grammar_text(),
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=True,
        postlex=_WrapLines(),
        cache=not strict,
        strict=strict,
    )


@lru_cache(maxsize=1)
def _cached_parser() -> Lark:
    return build_parser()


def parse(source: SourceFile) -> tuple[Recipe | None, list[Diagnostic]]:
    """The recipe's nodes, or None with every parse error found (one per broken item)."""
    try:
        tree = _cached_parser().parse(source.text)
    except UnexpectedInput:
        return None, _errors_by_item(source)
    if _too_deep_at(source.text) is not None:
        return None, [nested_too_deeply(source)]
    nodes = ToNodes(source.path)
    try:
        recipe = nodes.transform(tree)
    except (RecursionError, VisitError) as exc:
        if isinstance(exc, VisitError) and not isinstance(exc.orig_exc, RecursionError):
            raise
        return None, [nested_too_deeply(source)]
    if nodes.too_large:
        return None, [_too_large(span) for span in nodes.too_large]
    recipe.comments = _comment_nodes(source)
    return recipe, []


_COMMENT = re.compile(ANY_STRING + r"|(#[^\n]*)", re.S)


def _comment_nodes(source: SourceFile) -> list[Comment]:
    """The comments with their spans, lines counted along the file once (a file of many comments
    stays linear: `span_at` counts from the top each time)."""
    text, nodes = source.text, []
    line, line_start, counted_to = 1, 0, 0
    for offset, body in _comments(text):
        line += text.count("\n", counted_to, offset)
        line_start = max(line_start, text.rfind("\n", counted_to, offset) + 1)
        counted_to = offset
        col = offset - line_start + 1
        nodes.append(Comment(body, Span(source.path, line, col, line, col + max(len(body), 1))))
    return nodes


def _comments(text: str) -> Iterator[tuple[int, str]]:
    """Comments with their offsets; strings are skipped so a `#` inside one is not a comment."""
    for match in _COMMENT.finditer(text):
        if match.group(1):
            yield match.start(1), match.group(1).rstrip()


# A line that begins a top-level item; parsing item by item lets one run report an error
# in each broken item instead of stopping at the first. A keyword followed by `=`, `:` or
# `.` is a field or a reference inside a block (`data = tickets.train`), not a new item.
_ITEM_START = re.compile("^" + KEYWORD + r"(?![ \t]*[=:.])", re.M)

_LONG_STRING = re.compile(LONG_STRING, re.S)
_KEYWORD = re.compile(KEYWORD)


@dataclass(frozen=True)
class _Chunk:
    """The text of one top-level item: offsets in the file, and whether it ends the file."""

    begin: int
    end: int
    last: bool


def _errors_by_item(source: SourceFile) -> list[Diagnostic]:
    text = source.text
    # A line of a `"""` text block may begin with a keyword too; it starts no item.
    blocks = [m.span() for m in _LONG_STRING.finditer(text)]
    starts = [m.start() for m in _ITEM_START.finditer(text) if not any(a < m.start() < b for a, b in blocks)] or [0]
    if starts[0] != 0:
        starts.insert(0, 0)
    diagnostics: list[Diagnostic] = []
    parser = _cached_parser()
    lines_before, counted_to = 0, 0
    for begin, end in zip(starts, [*starts[1:], len(text)]):
        # Each item starts a line: its errors move down by the lines before it, and their
        # offsets by `begin` (counted once along the file, so many items stay linear).
        lines_before += text.count("\n", counted_to, begin)
        counted_to = begin
        try:
            parser.parse(text[begin:end])
        except UnexpectedInput as exc:
            chunk = _Chunk(begin, end, end == len(text))
            diagnostics.append(_to_diagnostic(_moved_down(exc, lines_before), source, chunk, begin))
    if not diagnostics:  # the whole failed but no item alone did: report the whole's error
        try:
            parser.parse(text)
        except UnexpectedInput as exc:
            diagnostics.append(_to_diagnostic(exc, source, _Chunk(0, len(text), True), 0))
    return diagnostics


def _moved_down(exc: UnexpectedInput, lines: int) -> UnexpectedInput:
    """The error of an item parsed alone, with its lines counted from the top of the file."""
    if isinstance(exc, UnexpectedCharacters):
        exc.line += lines
    token = getattr(exc, "token", None)
    if isinstance(token, Token):
        if token.line is not None:
            token.line += lines
        if token.end_line is not None:
            token.end_line += lines
    return exc


_PAIRS = {"(": ")", "[": "]", "{": "}"}
_OPENER_OF = {v: k for k, v in _PAIRS.items()}
_CLOSER_TOKENS = {")": "RPAR", "]": "RSQB", "}": "RBRACE"}


# Strings, comments, runs of space, or one character: enough to match brackets.
_SCAN = re.compile(ANY_STRING + r"|#[^\n]*|\s+|.", re.S)


def _open_brackets(text: str, begin: int, end: int) -> tuple[list[tuple[str, int]], int | None]:
    """Brackets still open at `end` (outermost first), and where the last non-blank character is."""
    stack: list[tuple[str, int]] = []
    last = None
    for match in _SCAN.finditer(text, begin, end):
        piece = match.group(0)
        if piece[0] == "#" or piece.isspace():
            continue
        last = match.end() - 1
        if piece in _PAIRS:
            stack.append((piece, match.start()))
        elif piece in _OPENER_OF and stack and stack[-1][0] == _OPENER_OF[piece]:
            stack.pop()
    return stack, last


def _too_large(span: Span) -> Diagnostic:
    return error(
        "E0007",
        "this number is too large",
        span,
        f"more than {MAX_DIGITS} digits, or past what a float holds",
        help="write the value a setting needs; no setting takes a number this large",
    )


MAX_NESTING = 50
# Strings and comments (skipped) and brackets: what the depth of nesting is counted from.
_BRACKETS = re.compile(ANY_STRING + r"|#[^\n]*|[()\[\]{}]", re.S)


def _too_deep_at(text: str) -> int | None:
    """The offset of the bracket that opens level `MAX_NESTING + 1`, if any."""
    depth = 0
    for match in _BRACKETS.finditer(text):
        piece = match.group(0)
        if piece in _PAIRS:
            depth += 1
            if depth > MAX_NESTING:
                return match.start()
        elif piece in _OPENER_OF:
            depth = max(depth - 1, 0)
    return None


def nested_too_deeply(source: SourceFile) -> Diagnostic:
    """E0006 at the bracket that opens one level too many, or over the whole file when the
    depth comes from something else (a very long chain of operators)."""
    at = _too_deep_at(source.text)
    if at is not None:
        return error(
            "E0006",
            "the recipe is nested too deeply",
            source.span_at(at),
            f"more than {MAX_NESTING} levels deep",
            help="a recipe needs only a few levels of brackets; flatten this value",
        )
    lines = source.text.count("\n") + 1
    whole = Span(source.path, 1, 1, lines, len(source.line_text(lines)) + 1)
    return error(
        "E0006",
        "the recipe is nested too deeply",
        whole,
        "too deep to check",
        help="split long chains of operators into shorter values",
    )


def _to_diagnostic(exc: UnexpectedInput, source: SourceFile, chunk: _Chunk, shift: int) -> Diagnostic:
    if isinstance(exc, UnexpectedCharacters):
        return _bad_character(exc, source, (exc.pos_in_stream or 0) + shift)
    if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        return _ends_early(exc, source, chunk)
    assert isinstance(exc, UnexpectedToken)
    return _unexpected_token(exc, source, chunk, shift)


def _ends_early(exc: UnexpectedInput, source: SourceFile, chunk: _Chunk) -> Diagnostic:
    stack, last = _open_brackets(source.text, chunk.begin, chunk.end)
    span = source.span_at(last if last is not None else chunk.begin)
    expected = expected_tokens(exc)
    if not stack:
        return error(
            "E0002",
            "the recipe ends too early" if chunk.last else "this declaration ends too early",
            span,
            f"expected {describe_expected(expected)} after this",
        )
    opener, at = stack[-1]
    closer = _PAIRS[opener]
    wanted = f"`{closer}`" if _CLOSER_TOKENS[closer] in expected else describe_expected(expected)
    opened = source.span_at(at)
    if chunk.last and opened == span:  # the file ends right after the opener
        return error(
            "E0002",
            "the recipe ends too early",
            span,
            f"this `{opener}` is never closed",
            help=f"every `{opener}` needs a matching `{closer}`",
        )
    if chunk.last:
        return error(
            "E0002",
            "the recipe ends too early",
            span,
            f"expected {wanted} after this",
            secondary=[Label(opened, f"this `{opener}` is never closed")],
            help=f"every `{opener}` needs a matching `{closer}`",
        )
    keyword = _ITEM_START.match(source.text, chunk.end)
    following = source.span_at(chunk.end, len(keyword.group(1)) if keyword else 1)
    return error(
        "E0002",
        f"`{opener}` is not closed before the next declaration",
        opened,
        "never closed",
        secondary=[Label(following, "the next declaration starts here")],
        help=f"add `{closer}` before line {following.line}",
    )


def _unexpected_token(exc: UnexpectedToken, source: SourceFile, chunk: _Chunk, shift: int) -> Diagnostic:
    token = exc.token
    line = token.line or 1
    col = token.column or 1
    if token.type == "_NL":
        # The newline token starts at the end of the line: point just past the last character.
        text = source.line_text(line)
        span = Span(source.path, line, len(text) + 1, line, len(text) + 2)
    else:
        span = Span(source.path, line, col, token.end_line or line, token.end_column or col + 1)
    expected = expected_tokens(exc)
    offset = (token.start_pos or 0) + shift
    secondary: list[Label] = []
    help_ = _parse_help(token, expected, source, chunk, offset)
    if token.type in ("RPAR", "RSQB", "RBRACE"):
        stack, _ = _open_brackets(source.text, chunk.begin, offset)
        opener = _OPENER_OF[str(token.value)]
        if not stack or all(o != opener for o, _ in stack):
            help_ = f"this `{token.value}` has no matching `{opener}`; remove it"
        elif stack[-1][0] != opener:
            inner, at = stack[-1]
            secondary.append(Label(source.span_at(at), f"this `{inner}` is not closed"))
            help_ = f"close the `{inner}` with `{_PAIRS[inner]}` first"
    return error(
        "E0001",
        f"unexpected {describe_found(token)}",
        span,
        f"expected {describe_expected(expected)}",
        help=help_,
        secondary=secondary,
    )


def _parse_help(token: Token, expected: set[str], source: SourceFile, chunk: _Chunk, offset: int) -> str | None:
    line_text = source.line_text(token.line or 1).strip()
    if token.type == "COLON" and "EQUAL" in expected:
        return "fields are written `name = value`"
    if {"RECIPE", "MODEL"} <= expected:
        if token.type == "NAME":
            guess = did_you_mean(str(token.value), KEYWORDS)
            if guess:
                return guess
        return "a recipe is made of declarations; each starts a line with one of the keywords above"
    keyword = _KEYWORD.match(source.text, chunk.begin)
    head_end = source.text.find("{", chunk.begin, chunk.end)
    line_end = source.text.find("\n", chunk.begin, chunk.end)
    head_end = min(x for x in (head_end, line_end, chunk.end) if x >= 0)
    if keyword and offset <= head_end:
        kind = keyword.group(1)
        return f"a `{kind}` declaration is written `{DECLARATIONS[kind].form}`"
    if re.match(r"split\b(?!\s*[{=])", line_text):
        return "write the parts as a record: `split { train = 90%, eval = 10% } seed 7`"
    if token.type == "NAME" and expected & {"COMMA", "_NL"} and "EQUAL" not in expected:
        return "put a new line or a `,` between two entries"
    return None


def _bad_character(exc: UnexpectedCharacters, source: SourceFile, offset: int) -> Diagnostic:
    text = source.text
    char = text[offset] if offset < len(text) else ""
    line, col = exc.line, exc.column
    if char == '"':
        if text[max(offset - 2, 0) : offset] == '""':
            # `"""` without its closing `"""` lexes as an empty string and a lone quote.
            span = Span(source.path, line, max(col - 2, 1), line, col + 1)
            return error(
                "E0003", 'this `"""` text is never closed', span, "the text starts here", help='close it with `"""`'
            )
        line_text = source.line_text(line)
        span = Span(source.path, line, col, line, len(line_text) + 1)
        return error(
            "E0003",
            "this string is never closed",
            span,
            "the string starts here",
            help='close it with `"` on the same line, or use `"""` for text over several lines',
        )
    span = Span(source.path, line, col, line, col + 1)
    help_ = None
    if char == "'":
        help_ = 'strings use double quotes: "…"'
    elif char == ";":
        help_ = "entries are separated by new lines or commas"
    elif char.isalpha():
        help_ = "names are made of ASCII letters, digits and `_`; other text goes in a string"
    shown = char if char.isprintable() else f"U+{ord(char):04X}" if char else "end of file"
    return error("E0001", f"unexpected character `{shown}`", span, "not valid here", help=help_)
