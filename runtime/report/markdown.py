"""The Markdown report: short enough for a pull-request comment."""

from __future__ import annotations

import re

from ftlang.runtime.report.contents import Report, Table

_TAG = re.compile(r"<(?=[A-Za-z/!?])")  # where `<` could open an HTML tag; `a < b` stays as it is


def _cell(text: str) -> str:
    # A pipe would end the cell and a newline the row; data text must not turn into markup.
    return _TAG.sub("&lt;", text.replace("\\", "\\\\").replace("|", "\\|")).replace("\n", "<br>")


def markdown_table(table: Table) -> list[str]:
    """A titled GitHub-flavoured Markdown table, its cells escaped."""
    lines = [
        f"## {table.title}",
        "",
        "| " + " | ".join(table.headers) + " |",
        "|" + "|".join("---" for _ in table.headers) + "|",
    ]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in table.rows]
    return lines + [""]


def render_md(report: Report) -> str:
    lines = [f"# {report.recipe} — run report", ""]
    if report.description:
        lines += [report.description, ""]
    if report.verdict:
        lines += [f"**Result: {report.verdict}** (gates and guards below)", ""]
    lines += [f"- **{name}**: {_cell(value)}" for name, value in report.facts] + [""]
    for table in report.tables:
        lines += markdown_table(table)
    if report.recipe_text is not None:
        fence = "~~~~" if "```" in report.recipe_text else "```"
        lines += ["<details><summary>The recipe as it ran</summary>", "", fence + "ft", report.recipe_text.rstrip()]
        lines += [fence, "", "</details>", ""]
    return "\n".join(lines).rstrip() + "\n"
