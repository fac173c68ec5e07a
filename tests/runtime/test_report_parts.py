"""Report pieces on their own: SVG plots, redaction, Markdown cells, generation prompts."""

from __future__ import annotations

import math

from ftlang.runtime.redact import MASK, redact, redact_param
from ftlang.runtime.report.contents import Report, Table, better_direction
from ftlang.runtime.report.markdown import render_md
from ftlang.runtime.report.plots import Chart, Series, line_chart, nice_ticks


def test_nice_ticks():
    # the step: the smallest 1, 2 or 5 times a power of ten that is at least range / 4
    assert nice_ticks(0, 1) == [0, 0.5, 1.0]
    assert nice_ticks(3, 47) == [20, 40]
    assert nice_ticks(0.93, 0.97) == [0.93, 0.94, 0.95, 0.96, 0.97]
    assert nice_ticks(-2.5, 7.5) == [0, 5]


def test_line_chart_draws_each_series_and_skips_non_finite_points():
    svg = line_chart(
        Chart("eval loss", [Series("a", [(0, 1.0), (5, math.nan), (10, 0.5)]), Series("b", [(0, 2.0), (10, math.inf)])])
    )
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<polyline") == 2 and svg.count("<circle") == 3
    assert "<title>eval loss</title>" in svg and "nan" not in svg and "inf" not in svg
    assert "no data" in line_chart(Chart("empty", [Series("x", [])]))


def test_redaction(monkeypatch):
    monkeypatch.setenv("MY_SERVICE_TOKEN", "k9-opaque-value-42")
    text = (
        "hub hf_AbCdEfGhIjKlMnOpQrStUvWx, url https://bob:hunter2@example.org/x, "
        "password=s3cret; k9-opaque-value-42; Bearer abc.def.ghi; the author: Ann"
    )
    out = redact(text)
    for secret in ("hf_AbCd", "hunter2", "s3cret", "k9-opaque", "abc.def"):
        assert secret not in out
    assert "the author: Ann" in out and "bob" not in out and out.count(MASK) == 5
    assert redact_param("hf_token", "anything") == MASK and redact_param("lr", 0.1) == "0.1"


def test_markdown_cells_cannot_break_the_table():
    report = Report(
        "r", "", None, [("plan", "abc")], [Table("Samples", ["input"], [["a | b\nc <script>x</script> 1 < 2"]])], []
    )
    row = [line for line in render_md(report).splitlines() if line.startswith("| a")][0]
    assert row == "| a \\| b<br>c &lt;script>x&lt;/script> 1 < 2 |"


def test_metric_tables_say_which_way_each_metric_improves():
    keys = ["accuracy", "loss", 'contains("a/b")', "length", "general.eval/perplexity"]
    assert [better_direction(k) for k in keys] == ["higher", "lower", "higher", "—", "lower"]
