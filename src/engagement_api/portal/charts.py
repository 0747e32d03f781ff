"""Charts drawn on the server as SVG: no script, no network, readable by screen readers (a
title, a description, and the figures as a table beside every chart)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

from markupsafe import Markup


@dataclass(frozen=True)
class Series:
    name: str
    values: list[int]
    style: str  # its class in portal.css, e.g. "series-a" (no inline style: the CSP forbids it)


def _nice_top(largest: float) -> float:
    """A round number at or above `largest` for the top of the axis."""
    if largest <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(largest))
    for step in (1, 2, 2.5, 5, 10):
        if largest <= step * power:
            return step * power
    return 10 * power


WIDE, NARROW = 720, 360  # drawing widths for a laptop and for a phone (CSS shows one)


def line_chart(
    chart_id: str, title: str, labels: list[str], series: list[Series], width: int = WIDE
) -> Markup:
    """An SVG line chart; `width` the drawing's units across (its text keeps 11 units high, so
    a narrow drawing shown at phone width stays readable)."""
    height, left, right, top, bottom = (260 if width >= WIDE else 300), 48, 12, 16, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    largest = max((v for s in series for v in s.values), default=0)
    ceiling = _nice_top(largest)
    count = max(len(labels), 1)

    def x(i: int) -> float:
        return left + (plot_w * i / (count - 1) if count > 1 else plot_w / 2)

    def y(value: float) -> float:
        return top + plot_h - plot_h * value / ceiling

    parts = [
        f'<svg id="{escape(chart_id)}" class="{"wide" if width >= WIDE else "narrow"}" '
        f'viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" '
        'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">'
        + escape("; ".join(f"{s.name}: {sum(s.values):,} in all" for s in series))
        + "</desc>",
    ]
    for tick in range(5):
        value = ceiling * tick / 4
        ty = y(value)
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{ty:.1f}" y2="{ty:.1f}" '
            'stroke="#d0d0d0" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#4a4a4a">{_short(value)}</text>'
        )
    every = max(1, math.ceil(count / (8 if width >= WIDE else 4)))
    for i, label in enumerate(labels):
        if i % every == 0 or i == count - 1:
            parts.append(
                f'<text x="{x(i):.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                f'font-size="11" fill="#4a4a4a">{escape(label)}</text>'
            )
    for s in series:
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(s.values))
        parts.append(
            f'<polyline class="{s.style}" fill="none" stroke-width="2.5" points="{points}"/>'
        )
        for i, v in enumerate(s.values):
            parts.append(
                f'<circle class="{s.style}" cx="{x(i):.1f}" cy="{y(v):.1f}" r="3">'
                f"<title>{escape(s.name)}, {escape(labels[i])}: {v:,}</title></circle>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def _short(value: float) -> str:
    for size, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:g}{unit}"
    return f"{value:g}"
