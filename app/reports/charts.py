"""Chart geometry for the report pages, drawn as SVG on the server (templates/reports/_charts.html).

Charts are plain SVG in the page: they need no script (the CSP allows none inline), print, scale with the page
and their bars are ordinary links. Colours come from CSS classes in app.css (Okabe–Ito palette, readable with
every common colour-vision deficiency); every chart is followed by a table of the same numbers.
"""
from __future__ import annotations

from dataclasses import dataclass

WIDTH = 640
HEIGHT = 260
LEFT = 44
RIGHT = 16
TOP = 16
BOTTOM = 56


@dataclass
class Point:
    x: float
    y: float | None
    label: str
    value: str
    note: str


@dataclass
class LineChart:
    points: list[Point]
    ticks: list[tuple[float, str]]
    zero_y: float
    path: str
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT


def _x_positions(count: int) -> list[float]:
    span = WIDTH - LEFT - RIGHT
    if count == 0:
        return []
    if count == 1:
        return [LEFT + span / 2]
    step = span / count
    return [round(LEFT + step * (i + 0.5), 1) for i in range(count)]


def nps_trend(labels: list[str], values: list[float | None], notes: list[str]) -> LineChart:
    """NPS (−100 … 100) per step as a line; a step without responses leaves a gap. ``notes`` go under each
    point (the number of responses)."""
    plot = HEIGHT - TOP - BOTTOM

    def y(value: float) -> float:
        return round(TOP + plot * (100 - value) / 200, 1)

    xs = _x_positions(len(labels))
    points = [Point(x, y(v) if v is not None else None, label, "–" if v is None else f"{v:g}", note)
              for x, label, v, note in zip(xs, labels, values, notes)]
    segments, pen = [], "M"
    for point in points:
        if point.y is None:
            pen = "M"
            continue
        segments.append(f"{pen}{point.x},{point.y}")
        pen = "L"
    ticks = [(y(v), f"{v:+d}" if v else "0") for v in (100, 50, 0, -50, -100)]
    return LineChart(points, ticks, y(0), " ".join(segments))


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: int
    href: str
    line_y: float
    cumulative: float


@dataclass
class ParetoChart:
    bars: list[Bar]
    ticks: list[tuple[float, str]]
    line: str
    baseline: float
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT


def pareto(labels: list[str], counts: list[int], cumulative: list[float], hrefs: list[str]) -> ParetoChart:
    """Bars of ``counts`` (largest first) on the left scale, the cumulative percentage as a line on 0–100 %."""
    plot = HEIGHT - TOP - BOTTOM
    top = max(counts, default=0) or 1
    xs = _x_positions(len(labels))
    slot = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    bar_width = round(min(slot * 0.7, 80), 1)
    bars = []
    for x, label, count, share, href in zip(xs, labels, counts, cumulative, hrefs):
        height = round(plot * count / top, 1)
        bars.append(Bar(round(x - bar_width / 2, 1), round(TOP + plot - height, 1), bar_width, height, label,
                        count, href, round(TOP + plot * (100 - share) / 100, 1), share))
    line = " ".join(f"{'M' if i == 0 else 'L'}{x},{bar.line_y}" for i, (x, bar) in enumerate(zip(xs, bars)))
    return ParetoChart(bars, _count_ticks(top, plot), line, TOP + plot)


def _count_ticks(top: int, plot: float) -> list[tuple[float, str]]:
    """The top of a 0 … ``top`` count scale, about its middle (a whole count, placed where it falls), and 0;
    each once (a scale of 0 … 1 has no middle)."""
    values = dict.fromkeys(v for v in (top, (top + 1) // 2 if top > 1 else None, 0) if v is not None)
    return [(round(TOP + plot * (1 - value / top), 1), str(value)) for value in values]


SERIES_STYLES = 5  # .chart-series-0 … -4 in app.css: Okabe–Ito colours, each with its own dash and marker


@dataclass
class Series:
    label: str
    style: int
    path: str
    points: list[Point]


@dataclass
class MultiLineChart:
    series: list[Series]
    ticks: list[tuple[float, str]]
    steps: list[tuple[float, str]]  # x and label of each step shown on the axis
    baseline: float
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT


def counts_by_step(steps: list[str], series: list[tuple[str, list[int]]], unit: str = "tickets") -> MultiLineChart:
    """One line per entry of ``series`` (a label and a count per step) on a common 0 … max scale, each drawn
    in its own style so the lines differ without colour too. With many steps only every n-th step is labelled
    on the axis (at most 12 labels); each point keeps its own title."""
    plot = HEIGHT - TOP - BOTTOM
    top = max((n for _, counts in series for n in counts), default=0) or 1
    xs = _x_positions(len(steps))

    def y(value: int) -> float:
        return round(TOP + plot * (1 - value / top), 1)

    drawn = []
    for index, (label, counts) in enumerate(series):
        points = [Point(x, y(n), step, str(n), f"{label}, {step}: {n} {unit}")
                  for x, step, n in zip(xs, steps, counts)]
        path = " ".join(f"{'M' if i == 0 else 'L'}{p.x},{p.y}" for i, p in enumerate(points))
        drawn.append(Series(label, index % SERIES_STYLES, path, points))
    every = max(1, -(-len(steps) // 12))
    shown = [(x, step) for i, (x, step) in enumerate(zip(xs, steps)) if i % every == 0]
    return MultiLineChart(drawn, _count_ticks(top, plot), shown, TOP + plot)
