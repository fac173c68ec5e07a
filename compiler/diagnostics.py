"""Diagnostics as data: code, severity, message, labelled spans, notes and help."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .source import Span

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Label:
    span: Span
    text: str = ""


@dataclass(frozen=True)
class Diagnostic:
    """One problem in a recipe; functions return lists of these and never raise for users."""

    code: str
    message: str
    primary: Label
    severity: Severity = "error"
    secondary: tuple[Label, ...] = ()
    notes: tuple[str, ...] = ()
    help: str | None = None

    @property
    def span(self) -> Span:
        return self.primary.span

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.span.file, self.span.line, self.span.col, self.code)


def error(
    code: str,
    message: str,
    span: Span,
    label: str = "",
    *,
    help: str | None = None,
    notes: tuple[str, ...] | list[str] = (),
    secondary: tuple[Label, ...] | list[Label] = (),
) -> Diagnostic:
    return Diagnostic(code, message, Label(span, label), "error", tuple(secondary), tuple(notes), help)


def warning(
    code: str,
    message: str,
    span: Span,
    label: str = "",
    *,
    help: str | None = None,
    notes: tuple[str, ...] | list[str] = (),
) -> Diagnostic:
    return Diagnostic(code, message, Label(span, label), "warning", (), tuple(notes), help)


@dataclass
class Sink:
    """Collects diagnostics of one run, dropping exact repeats."""

    items: list[Diagnostic] = field(default_factory=list)

    def add(self, diagnostic: Diagnostic) -> None:
        if diagnostic not in self.items:
            self.items.append(diagnostic)

    def extend(self, diagnostics: list[Diagnostic]) -> None:
        for d in diagnostics:
            self.add(d)

    @property
    def has_errors(self) -> bool:
        return any(d.severity == "error" for d in self.items)

    def sorted(self) -> list[Diagnostic]:
        return sorted(self.items, key=Diagnostic.sort_key)
