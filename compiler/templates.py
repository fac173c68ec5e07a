"""Jinja2 prompt templates at check time: their syntax and the data fields they use."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from jinja2 import TemplateSyntaxError, meta

from ftlang.plan.sandbox import LimitedSandbox, TemplateLimitError, sandbox

from .diagnostics import Diagnostic, error
from .nodes import Literal
from .source import Span
from .suggest import did_you_mean


@dataclass(frozen=True)
class TemplateInfo:
    fields: tuple[str, ...]
    error: str | None = None  # jinja2's first sentence, in our style: lowercase, no full stop
    error_line: int | None = None  # 1-based line inside the template
    details: tuple[str, ...] = ()  # jinja2's further sentences
    unclosed: str | None = None  # the block (`if`, `for`) that the template ends inside


def _environment() -> LimitedSandbox:
    return sandbox()


def inspect_template(text: str, env: LimitedSandbox | None = None) -> TemplateInfo:
    """The template's fields, or its syntax error, in `env` (the prompt templates' sandbox by default)."""
    env = env or _environment()
    try:
        ast = env.parse(text)
        # Compiling (no rendering) also finds unknown filters and tests, which parsing lets pass.
        env.compile(ast)
    except (ValueError, RecursionError) as exc:  # a number past int-to-str limits; nesting past the stack
        reason = "a number in it is too long" if isinstance(exc, ValueError) else "it is nested too deeply"
        return TemplateInfo((), reason, 1)
    except TemplateSyntaxError as exc:
        sentences = [_our_style(s) for s in re.split(r"(?<=[.'])\s+(?=[A-Z])", exc.message or "") if s.strip()]
        unclosed = re.search(r"innermost block that needs to be closed is '(\w+)'", exc.message or "")
        ends = bool(sentences) and sentences[0].startswith("unexpected end of template")
        return TemplateInfo(
            (),
            sentences[0] if sentences else "invalid template",
            exc.lineno,
            tuple(sentences[1:]),
            unclosed.group(1) if unclosed and ends else None,
        )
    return TemplateInfo(tuple(sorted(meta.find_undeclared_variables(ast))))


def limit_problem(text: str, rows: Sequence[Mapping[str, object]], env: LimitedSandbox | None = None) -> str | None:
    """The sandbox limit a render of the template with these rows goes past, if any (other render
    failures, such as a field a row lacks, are other checks' to report)."""
    env = env or _environment()
    try:
        template = env.from_string(text)
        for row in rows:
            env.render(template, row)
    except TemplateLimitError as exc:
        return str(exc)
    except Exception:
        return None
    return None


def jinja_names(kind: str) -> list[str]:
    """The filters or tests a template may use, for "did you mean"."""
    names = _environment().filters if kind == "filter" else _environment().tests
    return sorted(name for name in names if len(name) > 1)  # not the one-letter aliases `e` and `d`


def _our_style(sentence: str) -> str:
    sentence = sentence.strip().rstrip(".")
    return sentence[:1].lower() + sentence[1:]


def block_span(literal: Literal, block: str) -> Span | None:
    """The last `{% block … %}` tag of a template: the one left open when the template ends."""
    tags = list(re.finditer(rf"\{{%-?\s*{re.escape(block)}\b.*?%\}}", literal.raw, re.S))
    if not tags:
        return None
    tag = tags[-1]
    return _offset_span(literal, tag.start(), len(tag.group(0).split("\n")[0]))


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
    """The text of one line of a template, for syntax errors jinja2 locates by line."""
    raw = literal.raw
    quote = 3 if raw.startswith('"""') else 1
    body_start = quote + 1 if raw.startswith('"""\n') else quote
    lines = raw[body_start : len(raw) - quote].split("\n")
    index = min(max(template_line, 1), len(lines)) - 1
    while index > 0 and not lines[index].strip():  # an error "at" a blank last line: show the text
        index -= 1
    text = lines[index]
    indent = len(text) - len(text.lstrip())
    offset = body_start + sum(len(line) + 1 for line in lines[:index]) + indent
    return _offset_span(literal, offset, max(len(text.strip()), 1))


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


def limit_error(turn: str, literal: Literal, problem: str) -> Diagnostic:
    """E0600: rendering the template would cost more than the sandbox allows."""
    return error(
        "E0600",
        f"the `{turn}` template goes past a limit of the template sandbox",
        literal.span,
        problem,
        help="a prompt template formats a row's fields; build no large text or numbers in it",
    )


def template_error(turn: str, literal: Literal, info: TemplateInfo) -> Diagnostic:
    """A jinja2 syntax error, located as closely as jinja2 allows (a line, or the open block)."""
    help_ = "templates use jinja2 syntax: {{ field }}, {% if … %}…{% endif %}"
    label = str(info.error)
    span = line_span(literal, info.error_line or 1)
    notes = list(info.details)
    if info.unclosed and (opened := block_span(literal, info.unclosed)) is not None:
        span, label, notes = opened, f"this `{info.unclosed}` block is never closed", []
        help_ = f"close it with `{{% end{info.unclosed} %}}`"
    elif (unknown := re.match(r"no (filter|test) named '(\w+)'", label)) is not None:
        kind, name = unknown.groups()
        span = span_in_literal(literal, name)
        help_ = did_you_mean(name, jinja_names(kind)) or f"see jinja2's list of built-in {kind}s"
    return error("E0302", f"the `{turn}` template is not valid jinja2", span, label, notes=notes, help=help_)
