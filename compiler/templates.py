"""Jinja2 prompt templates at check time: their syntax and the data fields they use."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from jinja2 import Environment, TemplateSyntaxError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .nodes import Literal
from .source import Span


@dataclass(frozen=True)
class TemplateInfo:
    fields: tuple[str, ...]
    error: str | None = None
    error_line: int | None = None  # 1-based line inside the template


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return ImmutableSandboxedEnvironment()


def inspect_template(text: str) -> TemplateInfo:
    try:
        ast = _environment().parse(text)
    except TemplateSyntaxError as exc:
        return TemplateInfo((), exc.message or "invalid template", exc.lineno)
    return TemplateInfo(tuple(sorted(meta.find_undeclared_variables(ast))))


def span_in_literal(literal: Literal, needle: str) -> Span:
    """Where `needle` (a field name inside `{{ … }}` or `{% … %}`) stands in the source."""
    raw = literal.raw
    offset = -1
    for tag in re.finditer(r"\{\{.*?\}\}|\{%.*?%\}", raw, re.S):
        found = re.search(rf"(?<![\w.]){re.escape(needle)}\b", tag.group(0))
        if found:
            offset = tag.start() + found.start()
            break
    if offset < 0:
        return literal.span
    return _offset_span(literal, offset, len(needle))


def line_span(literal: Literal, template_line: int) -> Span:
    """The span of one line of a template, for syntax errors jinja2 locates by line."""
    raw = literal.raw
    body_start = 4 if raw.startswith('"""\n') else (3 if raw.startswith('"""') else 1)
    lines = raw[body_start:].split("\n")
    index = min(max(template_line, 1), len(lines)) - 1
    offset = body_start + sum(len(line) + 1 for line in lines[:index])
    return _offset_span(literal, offset, max(len(lines[index].rstrip()), 1))


def _offset_span(literal: Literal, offset: int, length: int) -> Span:
    raw = literal.raw
    start = literal.span
    newlines = raw.count("\n", 0, offset)
    if newlines == 0:
        col = start.col + offset
        line = start.line
    else:
        line = start.line + newlines
        col = offset - raw.rfind("\n", 0, offset)
    return Span(start.file, line, col, line, col + length)
