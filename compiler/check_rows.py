"""The row checks of `ft run`, on the rows `ft check` already read: the rules of
ftlang.plan.rows.RowRules (a row that lacks a field the prompt uses or holds null there, an object
or a list where a template prints text, a number among text), a label outside `labels`, and a
classifier whose whole data holds one class. Each names the file's line, located at the data's
source; the first row of each kind is reported."""

from __future__ import annotations

from typing import Any

from ftlang.plan.rows import RowRules, Rule, rendered_fields
from ftlang.plan.sandbox import sandbox

from .context import Context
from .datapeek import Peek
from .diagnostics import Diagnostic, error
from .source import Span


def check_rows(
    ctx: Context, prompt: dict[str, Any], data: dict[str, Any], found: Peek | None, where: Span, labels_at: Span | None
) -> None:
    """Report what `ft run` would stop at in the rows `found` read from the data `data`."""
    if found is None or not found.sample:
        return
    path = str((data.get("source") or {}).get("path") or data["name"])
    lines = found.lines or tuple(range(1, len(found.sample) + 1))
    reported: set[str] = set()
    # A field no row has is E0301's (or E0335's) to report; here, the rows that lack one others have.
    fields = [f for f in prompt.get("fields") or [] if f in found.fields]
    rules = RowRules(fields, [f for f in rendered_fields(prompt) if f in found.fields])
    # With `bad_rows = skip` the run skips such rows and counts them in its report.
    skip = data.get("bad_rows", "error") == "skip"
    for line, row in zip(lines, found.sample):
        fault = rules.fault(row, f"line {line}")
        if fault is not None and not skip and _CODES[fault[0]] not in reported:
            code = _CODES[fault[0]]
            reported.add(code)
            ctx.report(_row_error(code, f"line {line} of `{path}` {fault[1]}", where, data["name"]))
    if prompt.get("task") == "classification":
        _check_labels(ctx, prompt, found, lines, path, where, labels_at)


_CODES: dict[Rule, str] = {"missing": "E0601", "not_text": "E0602", "mixed_kinds": "E0606"}


def _row_error(code: str, message: str, where: Span, data: str) -> Diagnostic:
    help_ = {
        "E0601": f"fix the row, or let data `{data}` skip bad rows: `bad_rows = skip`",
        "E0602": "templates print text: store the value as a string, or print its parts (`{{ body.text }}`)",
        "E0606": f"write the field as text in every row (a number in quotes), or let data `{data}` skip bad rows",
    }[code]
    return error(code, message, where, "read from this data", help=help_)


def _check_labels(
    ctx: Context,
    prompt: dict[str, Any],
    found: Peek,
    lines: tuple[int, ...],
    path: str,
    where: Span,
    labels_at: Span | None,
) -> None:
    """Every rendered label is one of `labels`; with the whole file read, there are two classes or more."""
    env = sandbox()
    try:
        template = env.from_string(str(prompt.get("label") or ""))
    except Exception:
        return
    seen: dict[str, int] = {}
    labels = prompt.get("labels")
    declared = [str(label) for label in labels] if isinstance(labels, list) else None
    for line, row in zip(lines, found.sample):
        try:
            label = env.render(template, row).strip()
        except Exception:
            return
        seen.setdefault(label, line)
        if declared is not None and label not in declared:
            ctx.report(
                error(
                    "E0603",
                    f"line {line} of `{path}` has the label `{label}`, which is not in `labels`",
                    labels_at or where,
                    "the labels the classifier learns",
                    notes=[f"labels: {', '.join(declared)}"],
                    help=f"add `{label}` to `labels`, or fix the row",
                )
            )
            return
    if found.complete and len(seen) == 1 and (declared is None or len(declared) > 1):
        (only,) = seen
        ctx.report(
            error(
                "E0604",
                f"every row of `{path}` has the label `{only}`: a classifier needs two classes or more",
                where,
                "one class only",
                help="add rows of the other classes",
            )
        )
