"""What ``%aml_compare`` shows, without ipywidgets: the axes a chart can use, the chart for a
choice of axes, the runs-side-by-side table as HTML, and a static display object (text/plain is
``aml history compare``'s table) for front ends without a widget manager.

The data comes from ``aml_magic.service.compare`` (the builder of ``aml history compare``); this module
only decides how to draw it.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

from aml_magic.frontends.notebook.widgets.chart_svg import (
    PALETTE, PlotPoint, is_number, lines_svg, scatter_svg, wants_log
)
from aml_magic.service.compare import Series
from aml_magic.frontends.render import compare_grid, compare_table

ARGUMENT, METRIC = "arg", "metric"
#: Table cells: compact; values (long interpreter paths) may break anywhere, labels never.
CELL = "padding:2px 10px;vertical-align:top;line-height:1.4;overflow-wrap:anywhere"
LABEL = "padding:2px 10px;vertical-align:top;line-height:1.4;white-space:nowrap;text-align:left"


def parse_arguments(argv: Sequence[str]) -> dict[str, str]:
    """A script's arguments by name: ``--reg 10`` and ``--reg=10`` give ``reg``, a flag alone
    gives ``"true"``, positional ones ``arg 1``, ``arg 2``... (what a sweep varies)."""
    found: dict[str, str] = {}
    position, index = 0, 0
    while index < len(argv):
        item = argv[index]
        if item.startswith("-") and len(item) > 1 and not _numeric(item):
            name, eq, value = item.lstrip("-").partition("=")
            if not eq:
                following = argv[index + 1] if index + 1 < len(argv) else None
                takes = following is not None and (not following.startswith("-")
                                                   or _numeric(following))
                value = following if takes and following is not None else "true"
                index += 1 if takes else 0
            found[name] = value
        else:
            position += 1
            found[f"arg {position}"] = item
        index += 1
    return found


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _as_value(text: str) -> Any:
    """An argument as a number when it reads as one (so the x axis is numeric)."""
    return float(text) if _numeric(text) else text


@dataclass(frozen=True)
class Axis:
    """A quantity a chart can use: an argument or a metric's last value."""

    kind: str
    name: str

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"

    @property
    def label(self) -> str:
        return f"{self.name} (argument)" if self.kind == ARGUMENT else self.name

    def value(self, row: Mapping[str, Any]) -> Any:
        if self.kind == ARGUMENT:
            text = parse_arguments(row.get("arguments") or ()).get(self.name)
            return None if text is None else _as_value(text)
        return (row.get("metrics") or {}).get(self.name)


@dataclass
class CompareModel:
    """One comparison (``aml_magic.service.compare.comparison``'s data plus each run's series) and the
    choices it offers for the charts."""

    data: Mapping[str, Any]          # a ComparisonJson
    series: dict[str, dict[str, Series]] = field(default_factory=dict)

    @property
    def rows(self) -> list[dict[str, Any]]:
        return list(self.data["runs"])

    def color(self, index: int) -> str:
        return PALETTE[index % len(PALETTE)]

    def label(self, row: Mapping[str, Any]) -> str:
        """A short name for a run in legends: the end of its id (what ``aml`` also accepts)."""
        return "_".join(str(row["run_id"]).rsplit("_", 2)[-2:])[-9:]

    def y_choices(self) -> list[Axis]:
        """Metrics whose every logged last value is a number (text, lists, bools excluded)."""
        return [Axis(METRIC, name) for name in self.data["metrics"]
                if _all_numbers([(r.get("metrics") or {}).get(name) for r in self.rows])]

    def x_choices(self) -> list[Axis]:
        """Arguments (those that differ between the runs first), then metrics with scalar
        values (text ones make a categorical axis)."""
        names: dict[str, None] = {}
        for row in self.rows:
            names.update(dict.fromkeys(parse_arguments(row.get("arguments") or ())))
        arguments = [Axis(ARGUMENT, name) for name in names]
        arguments.sort(key=lambda axis: len({str(axis.value(r)) for r in self.rows}) < 2)
        metrics = [Axis(METRIC, name) for name in self.data["metrics"]
                   if _scalars([(r.get("metrics") or {}).get(name) for r in self.rows])]
        return arguments + metrics

    def default_axes(self) -> tuple[Axis | None, Axis | None]:
        """``(x, y)``: the first varying argument (else another metric) against the first
        numeric metric."""
        ys = self.y_choices()
        y = ys[0] if ys else None
        xs = [axis for axis in self.x_choices() if axis != y]
        return (xs[0] if xs else None), y

    def series_choices(self) -> list[str]:
        """Metric names with at least one numeric value in some run's series."""
        names: dict[str, None] = {}
        for per_name in self.series.values():
            names.update((n, None) for n, points in per_name.items()
                         if any(is_number(v) for _, v in points))
        return sorted(names, key=lambda n: -max(len(p.get(n, ())) for p in self.series.values()))

    # -- drawing -----------------------------------------------------------------------------
    def log_by_default(self, x: Axis | None) -> bool:
        """Whether ``x`` is drawn on a log scale unless the user says otherwise: its values
        span more than two decades (``chart_svg.wants_log``)."""
        return x is not None and wants_log([x.value(row) for row in self.rows])

    def scatter(self, x: Axis | None, y: Axis | None, *, x_log: bool | None = None) -> str:
        """``x_log``: a log x axis; None picks it by :meth:`log_by_default`."""
        if x is None or y is None:
            return ('<p class="aml-empty">No chart: the runs share no numeric metric and '
                    "argument to plot.</p>")
        points = [PlotPoint(self.label(row), x.value(row), y.value(row), self.color(i))
                  for i, row in enumerate(self.rows)]
        legend = [(self.label(row), self.color(i)) for i, row in enumerate(self.rows)]
        log = self.log_by_default(x) if x_log is None else x_log
        return scatter_svg(points, x_label=x.label, y_label=y.label, legend=legend, x_log=log)

    def lines(self, name: str | None) -> str:
        if name is None:
            return '<p class="aml-empty">No metric series to draw.</p>'
        series = {self.label(row): self.series.get(row["run_id"], {}).get(name, [])
                  for row in self.rows}
        colors = {self.label(row): self.color(i) for i, row in enumerate(self.rows)}
        return lines_svg(series, y_label=name, colors=colors)

    def text(self) -> str:
        return compare_table(self.rows, self.data["metrics"],
                             self.data["environment_differences"])

    def table_html(self) -> str:
        """The runs side by side, the same cells as ``aml history compare``'s table."""
        if not self.rows:
            return "<p>no runs</p>"
        head = "".join(f'<th style="color:{self.color(i)};{CELL}"><code>'
                       f'{escape(row["run_id"])}</code></th>' for i, row in enumerate(self.rows))
        grid = compare_grid(self.rows, self.data["metrics"], self.data["environment_differences"])
        body = "".join(f'<tr><th style="{LABEL}">{escape(label)}</th>'
                       + "".join(f'<td style="{CELL}">{escape(cell)}</td>' for cell in cells)
                       + "</tr>" for label, cells in grid)
        return ('<div style="overflow-x:auto;max-width:100%"><table class="aml-compare-table" '
                f'style="font-size:12px;border-collapse:collapse"><tr><th style="{LABEL}">run</th>'
                f"{head}</tr>{body}</table></div>")


def _scalars(values: Sequence[Any]) -> bool:
    """Some value is present and none is a list or an object (those are not positions)."""
    present = [v for v in values if v is not None]
    return bool(present) and not any(isinstance(v, (list, dict)) for v in present)


def _all_numbers(values: Sequence[Any]) -> bool:
    """Every present value is a number (a NaN counts, it is just not drawn) and one is
    drawable."""
    present = [v for v in values if v is not None]
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present)
    return numbers and any(is_number(v) for v in present)


class CompareView:
    """The static ``%aml_compare`` (no widget manager): the table and the default charts as
    HTML, the comparison table as text."""

    def __init__(self, model: CompareModel) -> None:
        self.model = model

    def html(self) -> str:
        x, y = self.model.default_axes()
        names = self.model.series_choices()
        return (f'<div class="aml-compare">{self.model.table_html()}'
                f"{self.model.scatter(x, y)}{self.model.lines(names[0] if names else None)}"
                "</div>")

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        return {"text/plain": self.model.text(), "text/html": self.html()}
