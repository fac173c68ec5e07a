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
    def read(cls, path: str | Path, shown: str | None = None) -> SourceFile:
        """The file's text exactly as stored (no newline translation: lines are counted at `\\n`,
        as the lexer counts them); UnicodeDecodeError for bytes that are not UTF-8."""
        return cls(shown or str(path), Path(path).read_bytes().decode("utf-8"))

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its line end."""
        if line < 1:
            return ""
        start = 0
        for _ in range(line - 1):
            start = self.text.find("\n", start) + 1
            if start == 0:
                return ""
        end = self.text.find("\n", start)
        return self.text[start : end if end >= 0 else len(self.text)].removesuffix("\r")

    def span_at(self, offset: int, length: int = 1) -> Span:
        """A span from a character offset, for errors that know only a position."""
        line = self.text.count("\n", 0, offset) + 1
        col = offset - (self.text.rfind("\n", 0, offset) + 1) + 1
        return Span(self.path, line, col, line, col + max(length, 1))


def undecodable(path: str, raw: bytes, exc: UnicodeDecodeError) -> tuple[SourceFile, Span]:
    """A file that is not UTF-8, shown with its bad bytes replaced, and the span of the first one."""
    before = raw[: exc.start].decode("utf-8", "replace")
    line = before.count("\n") + 1
    col = len(before) - (before.rfind("\n") + 1) + 1
    return SourceFile(path, raw.decode("utf-8", "replace")), Span(path, line, col, line, col + 1)
