"""The formatter's machinery: a small Wadler-style document printer and comment placement."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import nodes as n
from .source import Span

WIDTH = 100
INDENT = "  "

# --- documents ---------------------------------------------------------------
# A document is a str, a list of documents, or one of the classes below. A Group prints
# flat (all its lines as their flat text) when it fits the rest of the line, else broken.


@dataclass(frozen=True)
class Line:
    flat: str  # its text when the enclosing group is flat
    hard: bool = False  # always a new line; breaks every enclosing group


SOFT = Line("")  # nothing when flat
LINE = Line(" ")  # a space when flat
HARD = Line("", hard=True)


@dataclass(frozen=True)
class Indent:
    contents: Doc


@dataclass(frozen=True)
class IfBreak:
    broken: Doc
    flat: Doc = ""


@dataclass(frozen=True)
class Trailing:
    """A trailing comment: printed as is, but counted as zero columns wide."""

    text: str


@dataclass(frozen=True)
class BreakParent:
    """Forces the enclosing groups to break (a comment lies inside them)."""


BREAK = BreakParent()


@dataclass(frozen=True)
class Group:
    contents: Doc
    hard: bool = False  # holds a hard line or a BreakParent: never flat


Doc = str | list["Doc"] | Line | Indent | IfBreak | Trailing | BreakParent | Group


def group(*contents: Doc) -> Group:
    docs = list(contents)
    return Group(docs, _is_hard(docs))


def _is_hard(doc: Doc) -> bool:
    if isinstance(doc, list):
        return any(_is_hard(d) for d in doc)
    if isinstance(doc, Line):
        return doc.hard
    if isinstance(doc, BreakParent):
        return True
    if isinstance(doc, Group):
        return doc.hard
    if isinstance(doc, Indent):
        return _is_hard(doc.contents)
    return False  # str, Trailing, IfBreak (its lines only show once something else broke)


_FLAT, _BROKEN = 0, 1


def render(doc: Doc, width: int = WIDTH) -> str:
    """Print a document; indentation is written lazily so no line ends in spaces."""
    out: list[str] = []
    pos = 0
    pending: str | None = None  # indentation owed to the next text
    stack: list[tuple[int, int, Doc]] = [(0, _BROKEN, doc)]
    while stack:
        ind, mode, d = stack.pop()
        if isinstance(d, (str, Trailing)):
            text = d if isinstance(d, str) else d.text
            if not text:
                continue
            if pending is not None:
                out.append(pending)
                pending = None
            out.append(text)
            pos = len(text) - text.rfind("\n") - 1 if "\n" in text else pos + len(text)
        elif isinstance(d, list):
            stack.extend((ind, mode, x) for x in reversed(d))
        elif isinstance(d, Indent):
            stack.append((ind + 1, mode, d.contents))
        elif isinstance(d, Group):
            if d.hard:
                stack.append((ind, _BROKEN, d.contents))
            elif mode == _FLAT:
                stack.append((ind, _FLAT, d.contents))
            else:
                fits = _fits((ind, _FLAT, d.contents), stack, width - pos)
                stack.append((ind, _FLAT if fits else _BROKEN, d.contents))
        elif isinstance(d, IfBreak):
            stack.append((ind, mode, d.broken if mode == _BROKEN else d.flat))
        elif isinstance(d, Line):
            if mode == _FLAT and not d.hard:
                stack.append((ind, mode, d.flat))
            else:
                out.append("\n")
                pending = INDENT * ind
                pos = len(pending)
    return "".join(out)


def _fits(first: tuple[int, int, Doc], rest: list[tuple[int, int, Doc]], width: int) -> bool:
    """Whether `first`, then the rest up to its next line break, fits in `width` columns."""
    todo = [first]
    r = len(rest)
    while width >= 0:
        if not todo:
            if r == 0:
                return True
            r -= 1
            todo.append(rest[r])
            continue
        ind, mode, d = todo.pop()
        if isinstance(d, str):
            if "\n" in d:  # a triple-quoted string: only its first line is measured
                return width - d.index("\n") >= 0
            width -= len(d)
        elif isinstance(d, list):
            todo.extend((ind, mode, x) for x in reversed(d))
        elif isinstance(d, Indent):
            todo.append((ind + 1, mode, d.contents))
        elif isinstance(d, Group):
            todo.append((ind, _BROKEN if d.hard else mode, d.contents))
        elif isinstance(d, IfBreak):
            todo.append((ind, mode, d.broken if mode == _BROKEN else d.flat))
        elif isinstance(d, Line):
            if mode == _BROKEN or d.hard:
                return True
            width -= len(d.flat)
    return False


# --- comments ----------------------------------------------------------------
# Comments are not in the tree; they are attached to sequences by position. A sequence is
# the file (its items), a block (entries), a list (items) or a call (arguments). A comment
# lying between two elements of its innermost sequence is
#   trailing  - code precedes it on a line where the previous element ends,
#   open      - code precedes it on the line of the `{`, `[` or `(` and no element does,
#   leading   - otherwise, of the next element, or
#   dangling  - when no element follows (it stays before the closing bracket / at the end).
# A comment inside an element but in none of its sequences (`(a  # c` + newline + `and b)`)
# is hoisted to lead that element.

Bracketed = n.Block | n.ListExpr | n.Call  # a sequence between `{}`, `[]` or `()`
Container = n.Recipe | Bracketed


@dataclass
class Note:
    """One comment placed in the layout; `blank` says a blank line goes before it."""

    text: str
    line: int
    hoisted: bool = False
    blank: bool = False


@dataclass
class Comments:
    """Where each comment goes; keys are `id()`s of nodes of the tree being formatted."""

    lines: list[str]
    leading: dict[int, list[Note]] = field(default_factory=dict)
    trailing: dict[int, list[Note]] = field(default_factory=dict)
    opening: dict[int, list[Note]] = field(default_factory=dict)
    dangling: dict[int, list[Note]] = field(default_factory=dict)
    blank_before: set[int] = field(default_factory=set)  # elements (with their comments) after a blank
    blank_after_comments: set[int] = field(default_factory=set)  # blank between comments and element

    def blank_between(self, lo: int, hi: int) -> bool:
        """Whether a blank source line lies strictly between lines `lo` and `hi`."""
        return any(not self.lines[i - 1].strip() for i in range(max(lo + 1, 1), min(hi, len(self.lines) + 1)))


def elements(container: Container) -> list[Any]:
    """The elements of a sequence in source order (a call's keywords may come between args)."""
    if isinstance(container, n.Recipe):
        return list(container.items)
    if isinstance(container, n.Block):
        return list(container.entries)
    if isinstance(container, n.ListExpr):
        return list(container.items)
    return sorted([*container.args, *container.kwargs], key=lambda e: _start(e.span))


def _sequences(node: object) -> list[Bracketed]:
    """The sequences directly inside an element (not inside another sequence)."""
    if isinstance(node, (n.Block, n.ListExpr, n.Call)):
        return [node]
    if isinstance(node, n.BinaryOp):
        return _sequences(node.left) + _sequences(node.right)
    if isinstance(node, n.UnaryOp):
        return _sequences(node.operand)
    if isinstance(node, (n.Field, n.Keyword, n.Qualifier)):
        return _sequences(node.value)
    if isinstance(node, n.Statement):
        return [s for part in (node.value, *node.qualifiers) for s in _sequences(part)]
    if isinstance(node, n.Decl):
        return [s for part in (node.source, node.body) if part is not None for s in _sequences(part)]
    if isinstance(node, n.ParamDecl) and node.default is not None:
        return _sequences(node.default)
    return []


def _opener_line(container: Container) -> int:
    """The line of a sequence's `{`, `[` or `(` (0 for the file)."""
    if isinstance(container, n.Recipe):
        return 0
    if isinstance(container, n.Call):
        return container.func.span.end_line
    return container.span.line


def _start(span: Span) -> tuple[int, int]:
    return (span.line, span.col)


def _end(span: Span) -> tuple[int, int]:
    return (span.end_line, span.end_col)


def _inside(span: Span, pos: tuple[int, int]) -> bool:
    return _start(span) <= pos < _end(span)


def attach(recipe: n.Recipe, source_text: str) -> Comments:
    """Place every comment of `recipe` (parsed from `source_text`) in the layout."""
    found = Comments(source_text.split("\n"))
    for comment in sorted(recipe.comments, key=lambda c: _start(c.span)):
        _place(found, recipe, comment)
    _blank_lines(found, recipe, 0)
    return found


def _place(found: Comments, container: Container, comment: n.Comment) -> None:
    pos = _start(comment.span)
    line = pos[0]
    elems = elements(container)
    for elem in elems:
        if _inside(elem.span, pos):
            for seq in _sequences(elem):
                if _inside(seq.span, pos):
                    return _place(found, seq, comment)
            found.leading.setdefault(id(elem), []).append(Note(comment.text, line, hoisted=True))
            return None
    note = Note(comment.text, line)
    own_line = not found.lines[line - 1][: pos[1] - 1].strip()
    before = [e for e in elems if _end(e.span) <= pos]
    after = [e for e in elems if _start(e.span) > pos]
    if not own_line and before and before[-1].span.end_line == line:
        found.trailing.setdefault(id(before[-1]), []).append(note)
    elif not own_line and not before and line == _opener_line(container):
        found.opening.setdefault(id(container), []).append(note)
    elif after:
        found.leading.setdefault(id(after[0]), []).append(note)
    else:
        found.dangling.setdefault(id(container), []).append(note)
    return None


def _blank_lines(found: Comments, container: Container, opener_line: int) -> None:
    """Mark the blank source lines kept (one at most) between a sequence's elements and comments.

    None is kept right after an opening bracket (or at the start of the file); the file's
    own blank lines between items are set by the layout rules, not here.
    """
    prev = opener_line  # the last line of the previous element or comment
    elems = elements(container)
    for i, elem in enumerate(elems):
        notes = [note for note in found.leading.get(id(elem), []) if not note.hoisted]
        first = notes[0].line if notes else elem.span.line
        if i > 0 and found.blank_between(prev, first):
            found.blank_before.add(id(elem))
        for j, note in enumerate(notes):
            note.blank = j > 0 and found.blank_between(notes[j - 1].line, note.line)
        if notes and found.blank_between(notes[-1].line, elem.span.line):
            found.blank_after_comments.add(id(elem))
        prev = elem.span.end_line
        for seq in _sequences(elem):
            _blank_lines(found, seq, _opener_line(seq))
    for j, note in enumerate(found.dangling.get(id(container), [])):
        note.blank = (j > 0 or bool(elems)) and found.blank_between(prev, note.line)
        prev = note.line
