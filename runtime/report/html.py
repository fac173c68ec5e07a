"""The HTML report: one self-contained file — inline CSS and SVG plots, no script, nothing fetched."""

from __future__ import annotations

from html import escape

from ftlang.runtime.report.contents import Report, Table
from ftlang.runtime.report.plots import line_chart

_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #111827;
       max-width: 1040px; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.1rem; margin-top: 1.8rem; }
.desc { color: #4b5563; margin-top: 0; }
.verdict { display: inline-block; padding: .2rem .7rem; border-radius: 4px; font-weight: 700; color: #fff; }
.PASS { background: #15803d; } .FAIL { background: #b91c1c; }
table { border-collapse: collapse; width: 100%; margin: .4rem 0; }
th, td { border-bottom: 1px solid #e5e7eb; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #f9fafb; font-weight: 600; }
td.PASS { color: #15803d; background: none; font-weight: 700; } td.FAIL { color: #b91c1c; background: none; font-weight: 700; }
table.facts th { width: 9rem; background: none; color: #4b5563; }
td { white-space: pre-wrap; overflow-wrap: break-word; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: .8rem; }
svg { width: 100%; height: auto; font-size: 11px; fill: #374151; }
svg .ct { font-size: 13px; font-weight: 600; fill: #111827; }
svg .frame { fill: none; stroke: #d1d5db; } svg .grid { stroke: #f3f4f6; }
"""


def _table(table: Table) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in table.headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{c}">{escape(c)}</td>' if c in ("PASS", "FAIL") else f"<td>{escape(c)}</td>" for c in row
        )
        + "</tr>"
        for row in table.rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: Report) -> str:
    title = escape(f"{report.recipe} — run report")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title><style>{_CSS}</style></head><body>",
        f"<h1>{title}</h1>",
    ]
    if report.description:
        parts.append(f'<p class="desc">{escape(report.description)}</p>')
    if report.verdict:
        parts.append(f'<p><span class="verdict {report.verdict}">{report.verdict}</span></p>')
    facts = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in report.facts)
    parts.append(f'<table class="facts"><tbody>{facts}</tbody></table>')
    if report.charts:
        parts.append('<h2>Curves</h2><div class="charts">' + "".join(line_chart(c) for c in report.charts) + "</div>")
    for table in report.tables:
        parts.append(f"<h2>{escape(table.title)}</h2>{_table(table)}")
    if report.recipe_text is not None:
        parts.append(f"<h2>The recipe as it ran</h2><pre>{escape(report.recipe_text)}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
