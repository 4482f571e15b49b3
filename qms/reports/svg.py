"""Server-side SVG drawings of the reports: they render without JavaScript, print sharply and need no asset.

Inputs are plain labels and numbers (already translated by the caller); every label is XML-escaped here.
"""
from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

# Colour-blind-safe palette (Okabe–Ito), cycled for the series of a trend.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
WIDTH, HEIGHT = 760, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 56, 16, 80


def _nice_max(value: float) -> float:
    """A round axis maximum ≥ value (1, 2, 2.5, 5 × 10^n)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1) if value >= 1 else 1.0
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 or float(value).is_integer() else f"{value:,.2f}"


def _open(label: str) -> list[str]:
    return [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" class="report-chart" '
            f'role="img" aria-label={quoteattr(label)}><title>{escape(label)}</title>']


def _y_axis(parts: list[str], axis_max: float, x: float, *, right: bool = False, percent: bool = False) -> None:
    plot_h = HEIGHT - TOP - BOTTOM
    for tick in range(5):
        value = axis_max * tick / 4
        y = TOP + plot_h - plot_h * tick / 4
        if not right:
            parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid" '
                         'stroke="#ddd"/>')
        text = f"{value:.0f} %" if percent else _fmt(value)
        anchor = "start" if right else "end"
        dx = 6 if right else -6
        parts.append(f'<text x="{x + dx:.1f}" y="{y + 4:.1f}" text-anchor="{anchor}" font-size="11">{text}</text>')


def _x_labels(parts: list[str], labels: Sequence[str], slot: float) -> None:
    base = HEIGHT - BOTTOM + 14
    for index, label in enumerate(labels):
        x = LEFT + slot * (index + 0.5)
        short = label if len(label) <= 14 else label[:13] + "…"
        parts.append(f'<text x="{x:.1f}" y="{base}" font-size="11" text-anchor="end" '
                     f'transform="rotate(-35 {x:.1f} {base})"><title>{escape(label)}</title>{escape(short)}</text>')


def series_colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def pareto_chart(labels: Sequence[str], values: Sequence[float], cumulative_pct: Sequence[float], *,
                 label: str, vital_line_pct: float = 80.0) -> str:
    """Bars (left axis) with the cumulative-% line (right axis) and the vital-few line."""
    parts = _open(label)
    if not labels:
        parts.append("</svg>")
        return "".join(parts)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    axis_max = _nice_max(max(values))
    slot = plot_w / len(labels)
    _y_axis(parts, axis_max, LEFT)
    _y_axis(parts, 100.0, WIDTH - RIGHT, right=True, percent=True)
    for index, value in enumerate(values):
        bar_h = plot_h * value / axis_max
        x = LEFT + slot * index + slot * 0.15
        parts.append(f'<rect x="{x:.1f}" y="{TOP + plot_h - bar_h:.1f}" width="{slot * 0.7:.1f}" height="{bar_h:.1f}" '
                     f'fill="{PALETTE[0]}"><title>{escape(labels[index])}: {_fmt(value)}</title></rect>')
    points = " ".join(f"{LEFT + slot * (i + 0.5):.1f},{TOP + plot_h - plot_h * pct / 100:.1f}"
                      for i, pct in enumerate(cumulative_pct))
    parts.append(f'<polyline points="{points}" fill="none" stroke="{PALETTE[5]}" stroke-width="2"/>')
    for i, pct in enumerate(cumulative_pct):
        parts.append(f'<circle cx="{LEFT + slot * (i + 0.5):.1f}" cy="{TOP + plot_h - plot_h * pct / 100:.1f}" r="3" '
                     f'fill="{PALETTE[5]}"><title>{pct:.1f} %</title></circle>')
    vital_y = TOP + plot_h - plot_h * vital_line_pct / 100
    parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{vital_y:.1f}" y2="{vital_y:.1f}" stroke="{PALETTE[5]}" '
                 'stroke-dasharray="4 4"/>')
    _x_labels(parts, labels, slot)
    parts.append("</svg>")
    return "".join(parts)


def line_chart(period_labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], *, label: str) -> str:
    """One line per series over the periods (first 8 series; the caller folds the rest into "other" and draws the
    legend in HTML with `series_colour`)."""
    parts = _open(label)
    if not period_labels or not series:
        parts.append("</svg>")
        return "".join(parts)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    axis_max = _nice_max(max((max(values) for _name, values in series), default=0))
    slot = plot_w / len(period_labels)
    _y_axis(parts, axis_max, LEFT)
    for number, (name, values) in enumerate(series[:len(PALETTE)]):
        colour = PALETTE[number]
        points = [(LEFT + slot * (i + 0.5), TOP + plot_h - plot_h * v / axis_max) for i, v in enumerate(values)]
        parts.append(f'<polyline points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in points)}" fill="none" '
                     f'stroke="{colour}" stroke-width="2"/>')
        for (x, y), value, period in zip(points, values, period_labels, strict=True):
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"><title>{escape(name)} '
                         f'{escape(period)}: {_fmt(value)}</title></circle>')
    _x_labels(parts, period_labels, slot)
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(labels: Sequence[str], values: Sequence[float], *, label: str) -> str:
    parts = _open(label)
    if not labels:
        parts.append("</svg>")
        return "".join(parts)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    axis_max = _nice_max(max(values))
    slot = plot_w / len(labels)
    _y_axis(parts, axis_max, LEFT)
    for index, value in enumerate(values):
        bar_h = plot_h * value / axis_max
        x = LEFT + slot * index + slot * 0.2
        parts.append(f'<rect x="{x:.1f}" y="{TOP + plot_h - bar_h:.1f}" width="{slot * 0.6:.1f}" height="{bar_h:.1f}" '
                     f'fill="{PALETTE[0]}"><title>{escape(labels[index])}: {_fmt(value)}</title></rect>')
    _x_labels(parts, labels, slot)
    parts.append("</svg>")
    return "".join(parts)
