"""chart_svg: the scatter and line charts of ``%aml_compare`` as SVG text. Each chart is parsed as
XML (so it is well formed) and its marks are checked against the plot geometry."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from aml_magic.frontends.notebook.widgets import chart_svg as C
from aml_magic.frontends.notebook.widgets.chart_svg import LinearScale, PlotPoint, lines_svg, scatter_svg

NS = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def marks(root: ET.Element, kind: str, cls: str) -> list[ET.Element]:
    return [e for e in root.iter(NS + kind) if e.get("class") == cls]


def centres(root: ET.Element) -> dict[str, tuple[float, float]]:
    return {e.get("data-run", ""): (float(e.get("cx", "nan")), float(e.get("cy", "nan")))
            for e in marks(root, "circle", "aml-point")}


def texts(root: ET.Element, cls: str) -> list[str]:
    return [e.text or "" for e in root.iter(NS + "text") if e.get("class") == cls]


def test_numeric_points_land_where_their_values_say() -> None:
    # Given x values 0..10 and y values 0..1 (nice domains: exactly [0, 10] and [0, 1])
    points = [PlotPoint("a", 0, 0.0), PlotPoint("b", 5, 0.5), PlotPoint("c", 10, 1.0)]
    root = parse(scatter_svg(points, x_label="reg", y_label="accuracy"))
    # Then each circle sits at its value's fraction of the plot area (inset from the axes)
    left, right = C.LEFT + C.INSET, C.WIDTH - C.RIGHT - C.INSET
    bottom, top = C.HEIGHT - C.BOTTOM - C.INSET, C.TOP + C.INSET
    got = centres(root)
    assert got["a"] == pytest.approx((left, bottom), abs=0.06)
    assert got["b"] == pytest.approx(((left + right) / 2, (top + bottom) / 2), abs=0.06)
    assert got["c"] == pytest.approx((right, top), abs=0.06)
    # And the ticks are round numbers, the axes named
    assert texts(root, "aml-axis-label") == ["accuracy", "reg"]
    assert "0.6" in texts(root, "aml-tick") and "10" in texts(root, "aml-tick")


def test_a_larger_y_is_drawn_higher_and_order_is_kept_on_x() -> None:
    points = [PlotPoint(name, x, y) for name, x, y in
              (("p", 2.5, 0.875), ("q", 10, 0.5), ("r", 5, 0.7))]
    got = centres(parse(scatter_svg(points, x_label="x", y_label="y")))
    assert got["p"][1] < got["r"][1] < got["q"][1]       # SVG y grows downwards
    assert got["p"][0] < got["r"][0] < got["q"][0]


def test_text_x_values_make_a_categorical_axis_in_first_seen_order() -> None:
    points = [PlotPoint("a", "adam", 1.0), PlotPoint("b", "sgd", 2.0),
              PlotPoint("c", "adam", 3.0), PlotPoint("d", 4, 4.0)]
    root = parse(scatter_svg(points, x_label="optimizer", y_label="loss"))
    got = centres(root)
    # Three bands (adam, sgd, 4) of equal width: points of one category share their x
    band = (C.WIDTH - C.RIGHT - C.LEFT) / 3
    assert got["a"][0] == got["c"][0] == pytest.approx(C.LEFT + band / 2, abs=0.06)
    assert got["b"][0] == pytest.approx(C.LEFT + band * 1.5, abs=0.06)
    assert got["d"][0] == pytest.approx(C.LEFT + band * 2.5, abs=0.06)
    assert [t for t in texts(root, "aml-tick") if not t[0].isdigit()] == ["adam", "sgd"]


@pytest.mark.parametrize("x, y", [(None, 1.0), (1.0, None), (1.0, "high"), ("", 1.0),
                                  (1.0, True), (1.0, [1, 2]), (1.0, float("nan"))])
def test_points_without_both_values_as_numbers_are_left_out(x: object, y: object) -> None:
    points = [PlotPoint("kept1", 1.0, 2.0), PlotPoint("kept2", 3.0, 4.0), PlotPoint("gone", x, y)]
    assert sorted(centres(parse(scatter_svg(points, x_label="x", y_label="y")))) == [
        "kept1", "kept2"]


def test_nothing_to_plot_says_so_instead_of_an_empty_frame() -> None:
    root = parse(scatter_svg([PlotPoint("a", None, 1.0)], x_label="reg", y_label="acc"))
    assert not centres(root)
    assert texts(root, "aml-empty") == ["no run has both reg and acc"]


def test_one_value_gets_a_domain_around_it() -> None:
    scale = LinearScale.fit([3.0], 0, 100)
    assert scale.low < 3.0 < scale.high
    assert scale(3.0) == pytest.approx(50)


def test_ticks_are_round_and_printed_without_float_noise() -> None:
    scale = LinearScale.fit([0.13, 0.87], 0, 100)
    assert [C.tick_text(t) for t in scale.ticks()] == ["0", "0.2", "0.4", "0.6", "0.8", "1"]
    assert (scale.low, scale.high) == (0.0, pytest.approx(1.0))


def test_lines_one_per_run_with_a_legend_and_text_values_skipped() -> None:
    series = {"run1": [(0, 1.0), (1, 0.5), (2, "nan-ish"), (3, 0.25)],
              "run2": [(0, 2.0), (1, 1.0)],
              "run3": [(0, 0.7)],
              "run4": [(0, "text")]}
    root = parse(lines_svg(series, y_label="loss", colors={"run2": "#123456"}))
    lines = {e.get("data-run"): e for e in marks(root, "polyline", "aml-line")}
    assert sorted(lines) == ["run1", "run2"]
    assert len(lines["run1"].get("points", "").split()) == 3     # the text value is skipped
    assert lines["run2"].get("stroke") == "#123456"
    assert list(centres(root)) == ["run3"]                       # a one-point series is a dot
    legend = [e.text for g in root.iter(NS + "g") if g.get("class") == "aml-legend-entry"
              for e in g.iter(NS + "text")]
    assert legend == ["run1", "run2", "run3"]                    # run4 has nothing to draw
    assert texts(root, "aml-axis-label") == ["loss", "step"]


def test_lines_share_one_step_axis() -> None:
    root = parse(lines_svg({"a": [(0, 1.0), (4, 1.0)], "b": [(0, 0.0), (2, 3.0)]}, y_label="m"))
    xs = {e.get("data-run"): [float(p.split(",")[0]) for p in e.get("points", "").split()]
          for e in marks(root, "polyline", "aml-line")}
    assert xs["a"][0] == xs["b"][0]
    assert xs["b"][1] == pytest.approx((xs["a"][0] + xs["a"][1]) / 2, abs=0.06)


def test_labels_and_names_are_escaped() -> None:
    svg = scatter_svg([PlotPoint("<b>r</b>", 1, 2), PlotPoint("s", 2, 3)],
                      x_label="x<script>", y_label='y"&', legend=[("<i>", "#000")])
    root = parse(svg)                        # well-formed XML: nothing leaked as markup
    assert "<script>" not in svg and "<b>" not in svg
    assert "x<script>" in texts(root, "aml-axis-label")


def test_a_long_legend_ends_with_how_many_more() -> None:
    # Given more runs than legend lines fit in the chart's height
    fits = (C.HEIGHT - C.TOP - 8) // C.LEGEND_LINE
    series = {f"run{i}": [(0, float(i)), (1, float(i) + 1)] for i in range(fits + 5)}
    root = parse(lines_svg(series, y_label="loss"))
    # Then every run has its line, the legend names all it can and counts the rest
    assert len(marks(root, "polyline", "aml-line")) == fits + 5
    entries = [g for g in root.iter(NS + "g") if g.get("class") == "aml-legend-entry"]
    assert len(entries) == fits - 1
    assert texts(root, "aml-legend-more") == ["+6 more"]


def test_long_category_labels_are_cut_with_the_full_text_kept_in_tooltips() -> None:
    name = "a-very-long-optimizer-name-" * 3
    points = [PlotPoint(f"r{i}", f"{name}{i}", float(i)) for i in range(6)]
    root = parse(scatter_svg(points, x_label="opt", y_label="loss"))
    labels = [t for t in texts(root, "aml-tick") if t.startswith("a-very")]
    assert len(labels) == 6 and all(t.endswith("…") and len(t) < len(name) for t in labels)
    tips = [e.text or "" for e in root.iter(NS + "title")]
    assert any(f"opt={name}5" in tip for tip in tips)
