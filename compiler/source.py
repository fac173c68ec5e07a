"""Source files and spans: where in which file a piece of a recipe stands."""

from __future__ import annotations

from dataclasses import dataclass
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
    def read(cls, path: str | Path) -> SourceFile:
        return cls(str(path), Path(path).read_text(encoding="utf-8"))

    def line_text(self, line: int) -> str:
        lines = self.text.splitlines()
        return lines[line - 1] if 0 < line <= len(lines) else ""

    def span_at(self, offset: int, length: int = 1) -> Span:
        """A span from a character offset, for errors that know only a position."""
        line = self.text.count("\n", 0, offset) + 1
        col = offset - (self.text.rfind("\n", 0, offset) + 1) + 1
        return Span(self.path, line, col, line, col + max(length, 1))
