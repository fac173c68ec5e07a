"""Source files and spans: where in which file a piece of a recipe stands."""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path


@dataclass(frozen=True)
class Span:
    """A range of one file, 1-based lines and columns, end exclusive."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int

    def to(self, other: Span) -> Span:
        """The span covering `self` through `other` (same file)."""
        return Span(self.file, self.line, self.col, other.end_line, other.end_col)


@dataclass(frozen=True)
class SourceFile:
    """The text of a recipe file, kept so diagnostics can quote it."""

    path: str
    text: str

    @classmethod
    def read(cls, path: str | Path, shown: str | None = None) -> SourceFile:
        """The file's text exactly as stored (no newline translation: lines are counted at `\\n`,
        as the lexer counts them); UnicodeDecodeError for bytes that are not UTF-8."""
        return cls(shown or str(path), Path(path).read_bytes().decode("utf-8"))

    @cached_property
    def _line_starts(self) -> list[int]:
        """The offset where each line begins (lines end at `\\n`, as the lexer counts them)."""
        return [0, *(m.end() for m in re.finditer("\n", self.text))]

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its line end."""
        starts = self._line_starts
        if not 0 < line <= len(starts):
            return ""
        end = starts[line] - 1 if line < len(starts) else len(self.text)
        return self.text[starts[line - 1] : end].removesuffix("\r")

    def span_at(self, offset: int, length: int = 1) -> Span:
        """A span from a character offset, for errors that know only a position."""
        index = max(bisect_right(self._line_starts, offset) - 1, 0)
        col = offset - self._line_starts[index] + 1
        return Span(self.path, index + 1, col, index + 1, col + max(length, 1))


def undecodable(path: str, raw: bytes, exc: UnicodeDecodeError) -> tuple[SourceFile, Span]:
    """A file that is not UTF-8, shown with its bad bytes replaced, and the span of the first one."""
    before = raw[: exc.start].decode("utf-8", "replace")
    line = before.count("\n") + 1
    col = len(before) - (before.rfind("\n") + 1) + 1
    return SourceFile(path, raw.decode("utf-8", "replace")), Span(path, line, col, line, col + 1)
