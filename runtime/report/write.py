"""The run reports: report.md and report.html, written from the run directory's own files."""

from __future__ import annotations

from pathlib import Path

from ftlang.runtime.report.contents import collect
from ftlang.runtime.report.html import render_html
from ftlang.runtime.report.markdown import render_md
from ftlang.runtime.rundir import write_atomic

REPORT_MD, REPORT_HTML = "report.md", "report.html"


def write_reports(run_dir: Path) -> tuple[Path, Path]:
    """(Re)write both reports; they read only files, so `ft report` regenerates them anywhere."""
    run_dir = Path(run_dir)
    report = collect(run_dir)
    md, html = run_dir / REPORT_MD, run_dir / REPORT_HTML
    write_atomic(md, render_md(report))
    write_atomic(html, render_html(report))
    return md, html
