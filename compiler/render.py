"""Render diagnostics like rustc (text, colour on a terminal) or as JSON for tools."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ftlang.plan.redact import redact

from .diagnostics import Diagnostic, Label
from .source import SourceFile

JSON_FORMAT_VERSION = 1

_RESET = "\x1b[0m"
_STYLES = {
    "error": "\x1b[1;31m",
    "warning": "\x1b[1;33m",
    "gutter": "\x1b[1;34m",
    "bold": "\x1b[1m",
    "help": "\x1b[1;36m",
    "secondary": "\x1b[1;34m",
}


class _Paint:
    def __init__(self, colour: bool) -> None:
        self.colour = colour

    def __call__(self, style: str, text: str) -> str:
        return f"{_STYLES[style]}{text}{_RESET}" if self.colour and text else text


def render_text(diagnostics: list[Diagnostic], sources: Mapping[str, SourceFile], *, colour: bool = False) -> str:
    """All diagnostics, each as a rustc-style block, separated by blank lines."""
    paint = _Paint(colour)
    # Secrets never reach a terminal or a CI log: a data file such as /proc/self/environ, or a
    # token written into a recipe, is masked in messages, notes and quoted lines alike.
    text = "\n".join(_render_one(d, sources, paint) for d in diagnostics)
    return "\n".join(redact(line) for line in text.split("\n"))  # line by line: `name =` never spans two


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
    labels = [(d.primary, True), *((label, False) for label in d.secondary)]
    shown = [(label, primary) for label, primary in labels if label.span.file in sources]
    width = max((len(str(label.span.line)) for label, _ in shown), default=1)
    pad = " " * width
    out = [paint(d.severity, f"{d.severity}[{d.code}]") + paint("bold", f": {d.message}")]
    # A span in no source file (the command line, an unreadable file) has no line to show.
    where = f"{d.span.file}:{d.span.line}:{d.span.col}" if d.span.file in sources else d.span.file
    out.append(f"{pad}{paint('gutter', '-->')} {where}")
    if shown:
        out.append(f"{pad} {paint('gutter', '|')}")
    files = list(dict.fromkeys(label.span.file for label, _ in shown))
    for file in files:
        in_file = [(label, primary) for label, primary in shown if label.span.file == file]
        if file != d.span.file:
            first = min(label.span.line for label, _ in in_file)
            out.append(f"{pad}{paint('gutter', ':::')} {file}:{first}")
            out.append(f"{pad} {paint('gutter', '|')}")
        previous = None
        for line in sorted({label.span.line for label, _ in in_file}):
            if previous is not None and line > previous + 1:
                out.append(paint("gutter", "..."))
            on_line = [(label, primary) for label, primary in in_file if label.span.line == line]
            out.extend(_snippet(sources[file], line, on_line, width, paint, d.severity))
            previous = line
    if d.notes or d.help:
        out.append(f"{pad} {paint('gutter', '|')}")
    # Text over several lines continues under the first line's text, not under the `=`.
    for word, text, style in [*(("note", n, "bold") for n in d.notes), *([("help", d.help, "help")] if d.help else [])]:
        lead = f"{pad} {paint('gutter', '=')} {paint(style, word)}: "
        indent = " " * (len(pad) + len(f" = {word}: "))
        out.append(lead + ("\n" + indent).join(text.split("\n")))
    return "\n".join(out) + "\n"


def _display(text: str) -> str:
    """A source line as shown: tabs as four spaces, control characters as one visible mark."""
    return "".join("    " if c == "\t" else c if c.isprintable() else "\ufffd" for c in text)


def _snippet(
    source: SourceFile, line: int, labels: list[tuple[Label, bool]], width: int, paint: _Paint, severity: str
) -> list[str]:
    """One source line and its marks; several labels on a line share it, rustc-style."""
    text = source.line_text(line)
    marks = []  # (display column, length, label text, primary), left to right
    for label, primary in labels:
        span = label.span
        end_col = span.end_col if span.end_line == span.line else len(text) + 1
        start = len(_display(text[: max(span.col, 1) - 1])) + 1
        end = len(_display(text[: max(end_col, 1) - 1])) + 1
        marks.append((start, max(end - start, 1), label.text, primary))
    marks.sort(key=lambda m: (m[0], not m[3]))
    gutter = paint("gutter", f"{line:>{width}} |")
    empty = f"{' ' * width} {paint('gutter', '|')} "
    style = {True: severity, False: "secondary"}
    row, at = "", 1
    for start, length, _, primary in marks:
        if start < at:  # overlapping marks: the first one drawn wins
            continue
        row += " " * (start - at) + paint(style[primary], ("^" if primary else "-") * length)
        at = start + length
    last = marks[-1]
    if last[2]:
        row += " " + paint(style[last[3]], last[2])
    rows = [f"{gutter} {_display(text)}".rstrip(), (empty + row).rstrip()]
    hanging = [m for m in marks[:-1] if m[2]]
    if hanging:
        rows.append((empty + _pipes([m[0] for m in hanging], paint)).rstrip())
    for index in range(len(hanging) - 1, -1, -1):
        start, _, label_text, primary = hanging[index]
        left = _pipes([m[0] for m in hanging[:index]], paint)
        visible = len(_pipes([m[0] for m in hanging[:index]], _Paint(False)))
        rows.append(empty + left + " " * (start - 1 - visible) + paint(style[primary], label_text))
    return rows


def _pipes(columns: list[int], paint: _Paint) -> str:
    row, at = "", 1
    for column in columns:
        row += " " * (column - at) + paint("gutter", "|")
        at = column + 1
    return row


def to_json(diagnostics: list[Diagnostic], sources: Mapping[str, SourceFile]) -> str:
    """The `--format json` document: stable keys, a format version, one object per diagnostic."""

    def span_obj(label: Label) -> dict[str, object]:
        s = label.span
        source = sources.get(s.file)
        return {
            "file": s.file,
            "line": s.line,
            "column": s.col,
            "end_line": s.end_line,
            "end_column": s.end_col,
            "label": label.text,
            "snippet": source.line_text(s.line) if source else "",
        }

    items = [
        {
            "code": d.code,
            "severity": d.severity,
            "message": d.message,
            "primary": span_obj(d.primary),
            "secondary": [span_obj(x) for x in d.secondary],
            "notes": list(d.notes),
            "help": d.help,
        }
        for d in diagnostics
    ]
    return json.dumps({"format_version": JSON_FORMAT_VERSION, "diagnostics": _redacted(items)}, indent=2)


def _redacted(value: Any) -> Any:
    """Every string of a JSON-like value redacted (before encoding, so no escape is cut)."""
    if isinstance(value, str):
        return "\n".join(redact(line) for line in value.split("\n"))
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    if isinstance(value, dict):
        return {k: _redacted(v) for k, v in value.items()}
    return value
