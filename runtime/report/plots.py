"""Plots: small line charts as inline SVG text, so an HTML report needs no library and no network."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2")
WIDTH, HEIGHT = 420, 220
_LEFT, _RIGHT, _TOP, _BOTTOM = 58, 14, 30, 34  # room for tick labels and the title


@dataclass(frozen=True)
class Series:
    name: str
    points: list[tuple[float, float]]  # (step, value)


@dataclass(frozen=True)
class Chart:
    title: str
    series: list[Series]
    x_label: str = "step"


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten apart) covering [lo, hi]."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(1, count - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(f * power for f in (1, 2, 5, 10) if f * power >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    value = first
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def _span(values: Sequence[float]) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    if hi == lo:  # a flat line sits mid-chart
        pad = abs(lo) * 0.1 or 1.0
        return lo - pad, hi + pad
    pad = (hi - lo) * 0.05
    return lo - pad, hi + pad


def line_chart(chart: Chart) -> str:
    """The chart as an `<svg>` element; points that are not finite numbers are left out."""
    series = [Series(s.name, [(x, y) for x, y in s.points if math.isfinite(y)]) for s in chart.series]
    series = [s for s in series if s.points]
    title = f'<title>{escape(chart.title)}</title><text x="{_LEFT}" y="18" class="ct">{escape(chart.title)}</text>'
    if not series:
        return (
            f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img">{title}'
            f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">no data</text></svg>'
        )
    xs = [x for s in series for x, _ in s.points]
    ys = [y for s in series for _, y in s.points]
    x0, x1 = (min(xs), max(xs)) if min(xs) < max(xs) else _span(xs)
    y0, y1 = _span(ys)
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM

    def px(x: float) -> float:
        return _LEFT + (x - x0) / (x1 - x0) * plot_w

    def py(y: float) -> float:
        return _TOP + (1 - (y - y0) / (y1 - y0)) * plot_h

    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img">',
        title,
        f'<rect x="{_LEFT}" y="{_TOP}" width="{plot_w}" height="{plot_h}" class="frame"/>',
    ]
    for t in nice_ticks(y0, y1):
        parts.append(
            f'<line x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{py(t):.1f}" y2="{py(t):.1f}" class="grid"/>'
            f'<text x="{_LEFT - 6}" y="{py(t) + 4:.1f}" text-anchor="end">{t:.3g}</text>'
        )
    for t in nice_ticks(x0, x1):
        parts.append(f'<text x="{px(t):.1f}" y="{HEIGHT - _BOTTOM + 16}" text-anchor="middle">{t:g}</text>')
    parts.append(f'<text x="{_LEFT + plot_w / 2}" y="{HEIGHT - 4}" text-anchor="middle">{escape(chart.x_label)}</text>')
    for i, s in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in s.points)
        parts.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="1.8"/>')
        if len(s.points) <= 40:  # few points (evaluations): mark each one
            parts += [f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.8" fill="{colour}"/>' for x, y in s.points]
        if len(series) > 1:
            parts.append(
                f'<text x="{WIDTH - _RIGHT - 4}" y="{_TOP + 14 + 14 * i}" text-anchor="end" '
                f'fill="{colour}">{escape(s.name)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
