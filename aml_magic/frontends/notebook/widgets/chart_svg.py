"""Small charts as inline SVG text, drawn in Python: a scatter of one value against another
(numeric or categorical x) and lines over steps with a legend.

Why not matplotlib or plotly: the charts must render in any notebook front end and in a saved
notebook without a plotting dependency or JavaScript, and they are tiny. Standard library only.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

#: Colors given to runs in order (a run keeps its color in every view of one comparison).
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")
WIDTH, HEIGHT = 560, 320
#: Room around the plot area: left for y tick labels, bottom for x tick labels and the title.
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 14, 48
LEGEND_WIDTH = 150
LEGEND_LINE = 18
#: Space between the plot area's edges and the outermost ticks, so no point sits on an axis.
INSET = 10
FONT = 'font-family="sans-serif" font-size="11"'


def is_number(value: Any) -> bool:
    """A finite int or float (bools, text, lists, NaN and infinities are not plotted)."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def nice_step(span: float, count: int = 5) -> float:
    """The 1, 2 or 5 times a power of ten closest above ``span / count``: readable tick steps."""
    raw = span / max(1, count)
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 5.0, 10.0):
        if raw <= factor * power:
            return factor * power
    return 10.0 * power  # pragma: no cover - the loop always returns


@dataclass(frozen=True)
class LinearScale:
    """Maps data values in ``[low, high]`` onto pixels ``[start, end]`` (``end < start`` for a
    y axis, whose pixels grow downwards); ``step`` spaces the ticks."""

    low: float
    high: float
    start: float
    end: float
    step: float

    @classmethod
    def fit(cls, values: Sequence[float], start: float, end: float) -> LinearScale:
        """A scale whose domain covers the values, widened to whole tick steps; a single value
        gets a domain around it."""
        low, high = min(values), max(values)
        if low == high:
            pad = abs(low) * 0.1 or 1.0
            low, high = low - pad, high + pad
        step = nice_step(high - low)
        return cls(math.floor(low / step + 1e-9) * step, math.ceil(high / step - 1e-9) * step,
                   start, end, step)

    def __call__(self, value: float) -> float:
        return self.start + (value - self.low) / (self.high - self.low) * (self.end - self.start)

    def ticks(self) -> list[float]:
        count = int(round((self.high - self.low) / self.step))
        return [self.low + i * self.step for i in range(count + 1)]


#: A parameter spanning more than this ratio (two decades) is drawn on a log scale by default.
LOG_RATIO = 100.0


def wants_log(values: Sequence[Any]) -> bool:
    """A log axis suits these values: all numbers, all positive, spanning more than two
    decades (a sweep of a regularization from 10 down to 0.01)."""
    numbers = [float(v) for v in values if is_number(v)]
    if len(numbers) < 2 or len(numbers) != len([v for v in values if v is not None]):
        return False
    return min(numbers) > 0 and max(numbers) / min(numbers) > LOG_RATIO


@dataclass(frozen=True)
class LogScale:
    """Maps positive values onto pixels by their logarithm; ticks at powers of ten (with 2 and
    5 between them when the span is under three decades)."""

    low: float           # log10 of the domain's ends, widened to whole decades
    high: float
    start: float
    end: float

    @classmethod
    def fit(cls, values: Sequence[float], start: float, end: float) -> LogScale:
        logs = [math.log10(v) for v in values]
        low, high = math.floor(min(logs) + 1e-9), math.ceil(max(logs) - 1e-9)
        if low == high:
            low, high = low - 1, high + 1
        return cls(low, high, start, end)

    def __call__(self, value: float) -> float:
        return self.start + ((math.log10(value) - self.low) / (self.high - self.low)
                             * (self.end - self.start))

    def ticks(self) -> list[float]:
        factors = (1.0,) if self.high - self.low >= 3 else (1.0, 2.0, 5.0)
        return [f * 10.0 ** k for k in range(int(self.low), int(self.high) + 1) for f in factors
                if f * 10.0 ** k <= 10.0 ** self.high * (1 + 1e-9)]


@dataclass(frozen=True)
class BandScale:
    """Maps categories onto the centres of equal bands between pixels ``start`` and ``end``."""

    categories: tuple[str, ...]
    start: float
    end: float

    def __call__(self, category: str) -> float:
        band = (self.end - self.start) / len(self.categories)
        return self.start + band * (self.categories.index(category) + 0.5)


@dataclass(frozen=True)
class PlotPoint:
    """One run's point: ``x`` a number or a category, ``y`` a number; ``name`` and ``color``
    identify the run."""

    name: str
    x: Any
    y: Any
    color: str = PALETTE[0]


def tick_text(value: float) -> str:
    """A tick label without float noise (0.30000000000000004 -> 0.3)."""
    return f"{round(value, 9):.6g}"


def _frame(width: int, legend: bool) -> tuple[float, float, float, float]:
    """The plot area ``(left, right, top, bottom)`` in pixels."""
    right = width - RIGHT - (LEGEND_WIDTH if legend else 0)
    return LEFT, right, TOP, HEIGHT - BOTTOM


def _open(kind: str, width: int, title: str) -> str:
    return (f'<svg class="aml-chart {kind}" xmlns="http://www.w3.org/2000/svg" width="{width}" '
            f'height="{HEIGHT}" viewBox="0 0 {width} {HEIGHT}" role="img" '
            f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
            f'<rect width="{width}" height="{HEIGHT}" fill="white"/>')


def _y_axis(scale: LinearScale, left: float, right: float, label: str) -> list[str]:
    parts = []
    for tick in scale.ticks():
        y = scale(tick)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" '
                     'stroke="#e5e5e5"/>')
        parts.append(f'<text class="aml-tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" '
                     f'{FONT} fill="#444">{escape(tick_text(tick))}</text>')
    middle = (scale.start + scale.end) / 2
    axis_top, axis_bottom = scale.end - INSET, scale.start + INSET
    parts.append(f'<text class="aml-axis-label" x="14" y="{middle:.1f}" text-anchor="middle" '
                 f'transform="rotate(-90 14 {middle:.1f})" {FONT} font-weight="bold">'
                 f'{escape(label)}</text>')
    parts.append(f'<line x1="{left}" y1="{axis_top}" x2="{left}" y2="{axis_bottom}" '
                 'stroke="#333"/>')
    return parts


def _x_axis(ticks: Sequence[tuple[float, str]], left: float, right: float, bottom: float,
            label: str) -> list[str]:
    parts = [f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#333"/>']
    for x, text in ticks:
        parts.append(f'<line x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" y2="{bottom + 4}" '
                     'stroke="#333"/>')
        parts.append(f'<text class="aml-tick" x="{x:.1f}" y="{bottom + 16}" '
                     f'text-anchor="middle" {FONT} fill="#444">{escape(text)}</text>')
    parts.append(f'<text class="aml-axis-label" x="{(left + right) / 2:.1f}" '
                 f'y="{HEIGHT - 8}" text-anchor="middle" {FONT} font-weight="bold">'
                 f'{escape(label)}</text>')
    return parts


def _legend(entries: Sequence[tuple[str, str]], x: float) -> list[str]:
    """Name and color of each entry, one per line; what does not fit the chart's height is
    summed up as ``+N more`` (a sweep may have dozens of runs)."""
    fits = (HEIGHT - TOP - 8) // LEGEND_LINE
    shown = entries if len(entries) <= fits else entries[:fits - 1]
    parts = ['<g class="aml-legend">']
    for i, (name, color) in enumerate(shown):
        y = TOP + 8 + i * LEGEND_LINE
        parts.append(f'<g class="aml-legend-entry"><rect x="{x}" y="{y - 8}" width="12" '
                     f'height="10" fill="{color}"/><text x="{x + 18}" y="{y + 1}" {FONT}>'
                     f'{escape(_short(name, 22))}<title>{escape(name)}</title></text></g>')
    if len(shown) < len(entries):
        y = TOP + 8 + len(shown) * LEGEND_LINE
        parts.append(f'<text class="aml-legend-more" x="{x + 18}" y="{y + 1}" {FONT} '
                     f'fill="#6c757d">+{len(entries) - len(shown)} more</text>')
    parts.append("</g>")
    return parts


def _short(text: str, limit: int) -> str:
    """TEXT cut to LIMIT characters with an ellipsis (tick and legend labels must not
    overlap); the full text stays in a tooltip."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _empty(kind: str, width: int, title: str, message: str) -> str:
    return (_open(kind, width, title) + f'<text class="aml-empty" x="{width / 2}" '
            f'y="{HEIGHT / 2}" text-anchor="middle" {FONT} fill="#6c757d">{escape(message)}'
            "</text></svg>")


def scatter_svg(points: Sequence[PlotPoint], *, x_label: str, y_label: str,
                legend: Sequence[tuple[str, str]] = (), width: int = WIDTH,
                x_log: bool = False) -> str:
    """``y_label`` against ``x_label``, one circle per point whose x and y are known and y is a
    number. x is numeric when every plotted x is a number, else categorical (in first-seen
    order). ``x_log``: a log x axis, when every x is a positive number (else linear, said in
    the axis label)."""
    title = f"{y_label} against {x_label}"
    shown = [p for p in points if is_number(p.y) and p.x is not None and p.x != ""]
    if not shown:
        return _empty("aml-scatter", width, title, f"no run has both {x_label} and {y_label}")
    left, right, top, bottom = _frame(width, bool(legend))
    y_scale = LinearScale.fit([float(p.y) for p in shown], bottom - INSET, top + INSET)
    numeric = all(is_number(p.x) for p in shown)
    log = x_log and numeric and min(float(p.x) for p in shown) > 0
    parts = [_open("aml-scatter aml-log-x" if log else "aml-scatter", width, title)]
    parts += _y_axis(y_scale, left, right, y_label)
    if numeric:
        values = [float(p.x) for p in shown]
        x_scale: LinearScale | LogScale = (LogScale if log else LinearScale).fit(
            values, left + INSET, right - INSET)
        ticks = [(x_scale(t), tick_text(t)) for t in x_scale.ticks()]
        xs = [x_scale(v) for v in values]
        if log:
            x_label += " (log scale)"
        elif x_log:
            x_label += " (linear: a log scale needs positive values)"
    else:
        categories = tuple(dict.fromkeys(_category(p.x) for p in shown))
        band = BandScale(categories, left, right)
        limit = max(4, int((right - left) / len(categories) / 7))
        ticks = [(band(c), _short(c, limit)) for c in categories]
        xs = [band(_category(p.x)) for p in shown]
    parts += _x_axis(ticks, left, right, bottom, x_label)
    for point, x in zip(shown, xs):
        tip = f"{point.name}: {x_label}={_category(point.x)}, {y_label}={tick_text(point.y)}"
        parts.append(f'<circle class="aml-point" data-run="{escape(point.name)}" cx="{x:.1f}" '
                     f'cy="{y_scale(float(point.y)):.1f}" r="5" fill="{point.color}" '
                     f'stroke="white"><title>{escape(tip)}</title></circle>')
    if legend:
        parts += _legend(legend, right + 16)
    parts.append("</svg>")
    return "".join(parts)


def lines_svg(series: Mapping[str, Sequence[tuple[float, Any]]], *, y_label: str,
              colors: Mapping[str, str] | None = None, x_label: str = "step",
              width: int = WIDTH) -> str:
    """One line per named series over its steps (a one-point series is a dot), a legend with
    each name; non-numeric values are skipped."""
    title = f"{y_label} over {x_label}s"
    clean = {name: [(float(s), float(v)) for s, v in pairs if is_number(s) and is_number(v)]
             for name, pairs in series.items()}
    clean = {name: pairs for name, pairs in clean.items() if pairs}
    if not clean:
        return _empty("aml-lines", width, title, f"no run logged {y_label} as numbers")
    colors = colors or {}
    entries = [(name, colors.get(name, PALETTE[i % len(PALETTE)]))
               for i, name in enumerate(clean)]
    left, right, top, bottom = _frame(width, True)
    every = [pair for pairs in clean.values() for pair in pairs]
    x_scale = LinearScale.fit([s for s, _ in every], left + INSET, right - INSET)
    y_scale = LinearScale.fit([v for _, v in every], bottom - INSET, top + INSET)
    parts = [_open("aml-lines", width, title)]
    parts += _y_axis(y_scale, left, right, y_label)
    parts += _x_axis([(x_scale(t), tick_text(t)) for t in x_scale.ticks()], left, right, bottom,
                     x_label)
    for name, color in entries:
        coords = [(x_scale(s), y_scale(v)) for s, v in clean[name]]
        if len(coords) > 1:
            text = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
            parts.append(f'<polyline class="aml-line" data-run="{escape(name)}" fill="none" '
                         f'stroke="{color}" stroke-width="2" points="{text}"/>')
        else:
            x, y = coords[0]
            parts.append(f'<circle class="aml-point" data-run="{escape(name)}" cx="{x:.1f}" '
                         f'cy="{y:.1f}" r="4" fill="{color}"/>')
    parts += _legend(entries, right + 16)
    parts.append("</svg>")
    return "".join(parts)


def _category(value: Any) -> str:
    return tick_text(value) if is_number(value) else str(value)
