"""The row checks of `ft run`, on the rows `ft check` already read: a row that lacks a field the
prompt uses (or holds null there), a field holding an object where text is expected, a label
outside `labels`, and a classifier whose whole data holds one class. Each is located at the
data's source, with the file's line in a note; the first row of each kind is reported."""

from __future__ import annotations

from typing import Any

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
    conversation = (prompt.get("messages") or {}).get("field") if isinstance(prompt.get("messages"), dict) else None
    # A field no row has is E0301's (or E0335's) to report; here, the rows that lack one others have.
    fields = [f for f in prompt.get("fields") or [] if f in found.fields]
    for line, row in zip(lines, found.sample):
        for code, problem in _row_problems(row, fields, conversation, data):
            if code not in reported:
                reported.add(code)
                ctx.report(_row_error(code, f"line {line} of `{path}` {problem}", where, data["name"]))
    if prompt.get("task") == "classification" and "E0603" not in reported:
        _check_labels(ctx, prompt, found, lines, path, where, labels_at)


def _row_problems(
    row: dict[str, object], fields: list[str], conversation: str | None, data: dict[str, Any]
) -> list[tuple[str, str]]:
    problems = []
    for name in fields:
        value = row.get(name)
        if value is None and data.get("bad_rows", "error") == "error":
            what = "has no field" if name not in row else "has null in field"
            problems.append(("E0601", f"{what} `{name}`, which the prompt uses"))
        elif name != conversation and isinstance(value, (dict, list)):
            kind = "an object" if isinstance(value, dict) else "a list"
            problems.append(("E0602", f"holds {kind} in `{name}`, where the prompt expects text"))
        elif isinstance(value, str) and any("\ud800" <= c <= "\udfff" for c in value):
            problems.append(("E0602", f"holds an unpaired surrogate escape in `{name}`, which is not text"))
    return problems


def _row_error(code: str, message: str, where: Span, data: str) -> Diagnostic:
    help_ = {
        "E0601": f"fix the row, or let data `{data}` skip bad rows: `bad_rows = skip`",
        "E0602": "templates render text: store the value as a string, or reference its parts",
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
