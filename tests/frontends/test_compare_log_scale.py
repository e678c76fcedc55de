"""The ``%aml_compare`` chart's log scale: picked by itself when the parameter spans more than
two decades (a sweep from 10 down to 0.01), and a toggle to switch it."""
from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from aml_magic.frontends.notebook.widgets import chart_svg as C
from aml_magic.frontends.notebook.widgets.chart_svg import PlotPoint, scatter_svg, wants_log
from aml_magic.frontends.notebook.widgets.compare_view import CompareModel, CompareView
from tests._require import require_module

NS = "{http://www.w3.org/2000/svg}"
SWEEP = ("10", "1", "0.1", "0.01")          # four decades down


def model(regs: tuple[str, ...]) -> CompareModel:
    rows = [{"run_id": f"p_{i}_a", "status": "Completed", "target": "local", "environment": {},
             "arguments": ["--reg", reg], "metrics": {"accuracy": 0.5 + i / 10}}
            for i, reg in enumerate(regs)]
    return CompareModel({"runs": rows, "metrics": ["accuracy"], "environment_differences": []})


def xs(svg: str) -> list[float]:
    root = ET.fromstring(svg)
    return [float(e.get("cx", "nan")) for e in root.iter(NS + "circle")
            if e.get("class") == "aml-point"]


@pytest.mark.parametrize("values, expected", [
    ([10, 1, 0.1, 0.01], True),          # four decades
    ([0.01, 1.5], True),                 # 150: more than two decades
    ([1, 100], False),                   # exactly two decades: not more
    ([1, 5, 50], False),
    ([0, 1, 1000], False),               # zero has no logarithm
    ([-10, -0.01], False),
    ([1, 1000, None], True),             # a run without the value is left out
    ([1, 1000, "adam"], False),          # text: a categorical axis
    ([1000], False),
])
def test_log_is_picked_when_a_parameter_spans_more_than_two_decades(
        values: list[Any], expected: bool) -> None:
    assert wants_log(values) is expected


def test_a_log_axis_spaces_decades_evenly_and_ticks_at_powers_of_ten() -> None:
    # Given a sweep from 10 down to 0.01
    points = [PlotPoint(str(i), float(v), 0.5) for i, v in enumerate(SWEEP)]
    # When drawn on a log x axis
    svg = scatter_svg(points, x_label="reg", y_label="acc", x_log=True)
    # Then each decade is the same distance apart, and the ticks are the decades
    got = xs(svg)
    gaps = [a - b for a, b in zip(got, got[1:])]
    assert all(g == pytest.approx(gaps[0], abs=0.2) for g in gaps) and gaps[0] > 100
    ticks = [e.text for e in ET.fromstring(svg).iter(NS + "text")
             if e.get("class") == "aml-tick"]
    assert {"0.01", "0.1", "1", "10"} <= set(ticks)
    assert "reg (log scale)" in svg and "aml-log-x" in svg
    # While on a linear axis the three smallest crowd into the left tenth
    linear = xs(scatter_svg(points, x_label="reg", y_label="acc"))
    assert max(linear[1:]) - min(linear[1:]) < (C.WIDTH - C.LEFT - C.RIGHT) / 10


def test_log_needs_positive_values_and_says_so() -> None:
    points = [PlotPoint("a", 0.0, 1.0), PlotPoint("b", 100.0, 2.0)]
    svg = scatter_svg(points, x_label="reg", y_label="acc", x_log=True)
    assert "aml-log-x" not in svg and "a log scale needs positive values" in svg
    assert all(math.isfinite(x) for x in xs(svg))


def test_the_static_view_draws_a_wide_sweep_on_log_and_a_narrow_one_linear() -> None:
    assert "reg (argument) (log scale)" in CompareView(model(SWEEP)).html()
    assert "(log scale)" not in CompareView(model(("1", "2", "5"))).html()


def test_the_widget_toggle_starts_on_for_a_wide_sweep_and_switches_the_scale() -> None:
    require_module("ipywidgets")
    from aml_magic.frontends.notebook.widgets.compare import CompareWidget
    # Given a comparison of a sweep from 10 down to 0.01
    widget = CompareWidget(model(SWEEP))
    try:
        # Then the chart starts on a log x axis, the toggle on
        assert widget.log_x.value is True and "aml-log-x" in widget.scatter_view.value
        # When the toggle is clicked off, Then the chart is redrawn linear
        widget.log_x.value = False
        assert "aml-log-x" not in widget.scatter_view.value
        assert re.search(r">reg \(argument\)<", widget.scatter_view.value)
        # When x changes to an axis of a narrow span, Then it gets its own default (linear)
        widget.x_picker.value = "metric:accuracy"
        assert widget.log_x.value is False and "aml-log-x" not in widget.scatter_view.value
        # and back to the wide parameter: log again
        widget.x_picker.value = "arg:reg"
        assert widget.log_x.value is True and "aml-log-x" in widget.scatter_view.value
    finally:
        widget.close()
