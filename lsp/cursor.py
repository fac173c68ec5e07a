"""Where a cursor stands in recipe text, read lexically so that half-typed recipes still answer.

An editor asks for completion while the text does not parse; the enclosing declaration, the
list a name is typed in and an open `{{` of a template are all visible from the characters
before the cursor, so this module reads those rather than the syntax tree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ftlang.lsp.vocabulary import DECLARATIONS

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DECL_HEAD = re.compile(r"^\s*(" + "|".join(DECLARATIONS) + r")\b\s*([A-Za-z_][A-Za-z0-9_.]*)?", re.M)


@dataclass(frozen=True)
class Cursor:
    """What surrounds a position: the declaration it is in and what is being typed."""

    declaration: str | None  # "train", "method", …; None at the top level
    declaration_name: str | None  # for `method lora { … }`: "lora"
    line_prefix: str  # the text of the cursor's line before it
    word: str  # the partial name just before the cursor
    in_template: bool  # inside `{{ … }}` of a string
    list_statement: str | None  # `metrics [ … ` → "metrics"
    depth: int  # how many `{` are open at the cursor

    @property
    def at_entry_start(self) -> bool:
        """Typing the first word of a line: a field or statement name."""
        return self.line_prefix.strip() == self.word


def cursor_at(text: str, offset: int) -> Cursor:
    before = text[:offset]
    line_prefix = before[before.rfind("\n") + 1 :]
    word_match = re.search(r"[A-Za-z_][A-Za-z0-9_]*$", line_prefix)
    word = word_match.group(0) if word_match else ""
    depth, block_start = _open_block(before)
    declaration = name = None
    if depth > 0 and block_start is not None:
        head = before[: block_start + 1]
        heads = list(_DECL_HEAD.finditer(head))
        if heads:
            declaration, name = heads[-1].group(1), heads[-1].group(2)
    return Cursor(
        declaration=declaration,
        declaration_name=name,
        line_prefix=line_prefix,
        word=word,
        in_template=_in_template(line_prefix),
        list_statement=_open_list(before),
        depth=depth,
    )


def _open_block(before: str) -> tuple[int, int | None]:
    """Depth of `{` outside strings and comments, and where the outermost open one stands."""
    stack: list[int] = []
    in_string = False
    index = 0
    while index < len(before):
        char = before[index]
        if in_string:
            if char == "\\":
                index += 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "#":
            newline = before.find("\n", index)
            index = len(before) if newline < 0 else newline
            continue
        elif char == "{":
            stack.append(index)
        elif char == "}" and stack:
            stack.pop()
        index += 1
    return len(stack), (stack[0] if stack else None)


def _in_template(line_prefix: str) -> bool:
    if line_prefix.count('"') % 2 == 0:
        return False
    return line_prefix.rfind("{{") > line_prefix.rfind("}}")


def _open_list(before: str) -> str | None:
    """The statement whose `[` is still open at the cursor, e.g. `metrics`."""
    opened = before.rfind("[")
    if opened < 0 or before.rfind("]") > opened:
        return None
    words = _WORD.findall(before[:opened].rsplit("\n", 1)[-1])
    return words[-1] if words else None
