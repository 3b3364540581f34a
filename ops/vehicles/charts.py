"""Trend charts as SVG drawn on the server, so they update like any other fragment (DESIGN.md §4).

One small line chart per measure: a day per step on the x axis over the chosen period, the measure's
range (with a little headroom) on the y axis, a gap where a day has no reading.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from markupsafe import Markup, escape

WIDTH = 320
HEIGHT = 120
# Room for the axis labels: left for the values, bottom for the dates.
LEFT = 44
RIGHT = 8
TOP = 10
BOTTOM = 22


@dataclass(frozen=True)
class Series:
    """One measure's daily values, already in the reader's units."""

    title: str
    unit: str
    values: dict[date, float]


def _y_range(values: Sequence[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    if high - low < 1e-9:
        # A flat line sits in the middle instead of on an edge.
        pad = abs(high) * 0.1 or 1.0
        return low - pad, high + pad
    pad = (high - low) * 0.1
    return low - pad, high + pad


def line_chart(
    series: Series,
    first_day: date,
    days: int,
    format_value: Callable[[float], str],
    label_day: Callable[[date], str],
) -> Markup:
    """An accessible SVG line chart; its title and description name the measure, period and range."""
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    values = [value for value in series.values.values()]
    last_day = first_day + timedelta(days=days - 1)
    title = escape(series.title)
    if not values:
        return Markup(
            '<svg class="trend-chart empty" viewBox="0 0 {w} {h}" role="img" aria-label="{t}">'
            '<rect x="{l}" y="{top}" width="{pw}" height="{ph}" class="plot"/>'
            '<text x="{cx}" y="{cy}" text-anchor="middle" class="no-data">{none}</text></svg>'
        ).format(
            w=WIDTH,
            h=HEIGHT,
            t=title,
            l=LEFT,
            top=TOP,
            pw=plot_width,
            ph=plot_height,
            cx=LEFT + plot_width / 2,
            cy=TOP + plot_height / 2 + 4,
            none=escape(series.unit),
        )
    low, high = _y_range(values)

    def x(day: date) -> float:
        step = plot_width / max(1, days - 1)
        return LEFT + (day - first_day).days * step

    def y(value: float) -> float:
        return TOP + plot_height - (value - low) / (high - low) * plot_height

    # A gap where a day has no reading: one polyline per run of consecutive days.
    runs: list[list[str]] = []
    points: list[str] = []
    previous: date | None = None
    for day in sorted(series.values):
        if day < first_day or day > last_day:
            continue
        if previous is not None and (day - previous).days > 1:
            runs.append(points)
            points = []
        points.append(f"{x(day):.1f},{y(series.values[day]):.1f}")
        previous = day
    runs.append(points)
    lines = Markup("").join(
        Markup('<polyline class="line" points="{}"/>').format(" ".join(run))
        if len(run) > 1
        else Markup('<circle class="dot" r="2" cx="{}" cy="{}"/>').format(*run[0].split(","))
        for run in runs
        if run
    )
    shown = [series.values[day] for day in series.values if first_day <= day <= last_day]
    described = (
        escape(
            f"{series.title}: {format_value(min(shown))} to {format_value(max(shown))}, "
            f"{label_day(first_day)} to {label_day(last_day)}"
        )
        if shown
        else title
    )
    return Markup(
        '<svg class="trend-chart" viewBox="0 0 {w} {h}" role="img" aria-label="{d}">'
        '<rect x="{l}" y="{top}" width="{pw}" height="{ph}" class="plot"/>'
        '<text x="{lx}" y="{hy}" text-anchor="end" class="axis">{high}</text>'
        '<text x="{lx}" y="{ly}" text-anchor="end" class="axis">{low}</text>'
        '<text x="{l}" y="{dy}" class="axis">{first}</text>'
        '<text x="{r}" y="{dy}" text-anchor="end" class="axis">{last}</text>'
        "{lines}</svg>"
    ).format(
        w=WIDTH,
        h=HEIGHT,
        d=described,
        l=LEFT,
        top=TOP,
        pw=plot_width,
        ph=plot_height,
        lx=LEFT - 4,
        hy=f"{y(max(values)) + 4:.1f}",
        ly=f"{y(min(values)) + 4:.1f}",
        high=format_value(max(values)),
        low=format_value(min(values)),
        dy=HEIGHT - 6,
        r=WIDTH - RIGHT,
        first=label_day(first_day),
        last=label_day(last_day),
        lines=lines,
    )
