"""Render diagnostics like rustc (text, colour on a terminal) or as JSON for tools."""

from __future__ import annotations

import json
from collections.abc import Mapping

from .diagnostics import Diagnostic, Label
from .source import SourceFile

JSON_FORMAT_VERSION = 1

_RESET = "\x1b[0m"
_STYLES = {"error": "\x1b[1;31m", "warning": "\x1b[1;33m", "gutter": "\x1b[1;34m",
           "bold": "\x1b[1m", "help": "\x1b[1;36m", "secondary": "\x1b[1;34m"}


class _Paint:
    def __init__(self, colour: bool) -> None:
        self.colour = colour

    def __call__(self, style: str, text: str) -> str:
        return f"{_STYLES[style]}{text}{_RESET}" if self.colour and text else text


def render_text(diagnostics: list[Diagnostic], sources: Mapping[str, SourceFile], *,
                colour: bool = False) -> str:
    """All diagnostics, each as a rustc-style block, separated by blank lines."""
    paint = _Paint(colour)
    return "\n".join(_render_one(d, sources, paint) for d in diagnostics)


def summary_line(diagnostics: list[Diagnostic], path: str) -> str:
    errors = sum(d.severity == "error" for d in diagnostics)
    warnings = len(diagnostics) - errors
    parts = []
    if errors:
        parts.append(f"{errors} error{'s' * (errors != 1)}")
    if warnings:
        parts.append(f"{warnings} warning{'s' * (warnings != 1)}")
    return f"{', '.join(parts)} in {path}" if parts else f"{path}: ok"


def _render_one(d: Diagnostic, sources: Mapping[str, SourceFile], paint: _Paint) -> str:
    labels = [d.primary, *d.secondary]
    width = max(len(str(label.span.line)) for label in labels)
    pad = " " * width
    out = [paint(d.severity, f"{d.severity}[{d.code}]") + paint("bold", f": {d.message}")]
    out.append(f"{pad}{paint('gutter', '-->')} {d.span.file}:{d.span.line}:{d.span.col}")
    out.append(f"{pad} {paint('gutter', '|')}")
    shown_file = d.span.file
    for index, label in enumerate(labels):
        if label.span.file != shown_file:
            out.append(f"{pad}{paint('gutter', ':::')} {label.span.file}:{label.span.line}:{label.span.col}")
            out.append(f"{pad} {paint('gutter', '|')}")
            shown_file = label.span.file
        out.extend(_snippet(label, sources.get(label.span.file), width, paint,
                            primary=index == 0, severity=d.severity))
    if d.notes or d.help:
        out.append(f"{pad} {paint('gutter', '|')}")
    for note in d.notes:
        out.append(f"{pad} {paint('gutter', '=')} {paint('bold', 'note')}: {note}")
    if d.help:
        out.append(f"{pad} {paint('gutter', '=')} {paint('help', 'help')}: {d.help}")
    return "\n".join(out) + "\n"


def _snippet(label: Label, source: SourceFile | None, width: int, paint: _Paint, *,
             primary: bool, severity: str) -> list[str]:
    span = label.span
    text = source.line_text(span.line) if source else ""
    end_col = span.end_col if span.end_line == span.line else len(text) + 1
    start = max(span.col, 1)
    length = max(end_col - start, 1)
    gutter = paint("gutter", f"{span.line:>{width}} |")
    caret = ("^" if primary else "-") * length
    marker = paint(severity if primary else "secondary", f"{caret} {label.text}".rstrip())
    return [f"{gutter} {text}".rstrip(), f"{' ' * width} {paint('gutter', '|')} {' ' * (start - 1)}{marker}"]


def to_json(diagnostics: list[Diagnostic], sources: Mapping[str, SourceFile]) -> str:
    """The `--format json` document: stable keys, a format version, one object per diagnostic."""
    def span_obj(label: Label) -> dict[str, object]:
        s = label.span
        source = sources.get(s.file)
        return {"file": s.file, "line": s.line, "column": s.col, "end_line": s.end_line,
                "end_column": s.end_col, "label": label.text,
                "snippet": source.line_text(s.line) if source else ""}

    items = [{"code": d.code, "severity": d.severity, "message": d.message,
              "primary": span_obj(d.primary), "secondary": [span_obj(x) for x in d.secondary],
              "notes": list(d.notes), "help": d.help} for d in diagnostics]
    return json.dumps({"format_version": JSON_FORMAT_VERSION, "diagnostics": items}, indent=2)
