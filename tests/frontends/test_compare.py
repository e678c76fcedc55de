"""``%aml_compare`` through a real IPython shell over real runs on the local target: the text
fallback is ``aml history compare``'s table (the same builder), the widget offers only numeric
metrics as y, one click on x redraws the chart, ``--sweep`` compares a parent's children."""
from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from aml_magic.domain.history.records import Metric, RunRecord
from aml_magic.domain.history.status import RunStatus
from tests._project import aml
from tests._require import require_module

from .test_magics import WIDGET_VIEW, line, one_error_line

TRAIN = """\
    import argparse
    from azureml.logging import get_azureml_logger
    parser = argparse.ArgumentParser()
    parser.add_argument("--reg", type=float)
    parser.add_argument("--depth", type=int)
    args = parser.parse_args()
    log = get_azureml_logger()
    for step in range(4):
        log.log("loss", args.reg / (step + 1) + args.depth / 100)
    if args.depth != 5:                     # one run never logs accuracy
        log.log("accuracy", 1 - args.reg / 20)
    log.log("model", "tree")                # text: never a y axis
"""
GRID = (("10", "3"), ("5", "5"), ("2.5", "7"))


@pytest.fixture
def runs(ip: Any, magics: Any, tmp_path: Path) -> tuple[Path, list[Any]]:
    """A project with three completed runs of train.py over GRID, newest last."""
    _, cap = line(ip, "aml_init", "proj")
    assert "Project ready" in cap.stdout, cap.stderr
    project = tmp_path / "proj"
    (project / "train.py").write_text(textwrap.dedent(TRAIN))
    ws = magics.workspace()
    done = []
    for reg, depth in GRID:
        run = ws.submit("local", "train.py", ["--reg", reg, "--depth", depth])
        assert run.wait(timeout=60) is RunStatus.COMPLETED, run.log_text()[0]
        done.append(run)
    return project, done


def _compare_widgets() -> list[Any]:
    from ipywidgets.widgets import widget

    from aml_magic.frontends.notebook.widgets.compare import CompareWidget
    return [w for w in list(widget._instances.values()) if isinstance(w, CompareWidget)]


def _points(svg: str) -> list[str]:
    return re.findall(r'<circle class="aml-point" data-run="([^"]+)"', svg)


def _scatter(html: str) -> str:
    """The scatter chart of a static view (the series chart follows it)."""
    return html.split('class="aml-chart aml-lines"')[0]


def test_text_fallback_is_the_cli_table(ip: Any, magics: Any,
                                        runs: tuple[Path, list[Any]]) -> None:
    project, _ = runs
    magics.use_widgets = False                       # a front end without a widget manager
    _, cap = line(ip, "aml_compare", "--last 3")
    assert not cap.stderr
    shown = cap.outputs[-1].data
    cli = aml("history", "compare", "--last", "3", cwd=project).stdout
    assert shown["text/plain"] == cli.rstrip("\n")
    # The static HTML has the table and both charts, accuracy drawn for the 2 runs that have it
    html = shown["text/html"]
    assert 'class="aml-compare-table"' in html and "aml-lines" in html
    assert len(_points(_scatter(html))) == 2


def test_widget_charts_switch_axes_with_one_click(ip: Any, magics: Any,
                                                  runs: tuple[Path, list[Any]]) -> None:
    require_module("ipywidgets")
    project, done = runs
    before = len(_compare_widgets())
    _, cap = line(ip, "aml_compare", " ".join(run.id for run in done))
    assert not cap.stderr and any(WIDGET_VIEW in o.data for o in cap.outputs)
    widget = _compare_widgets()[before]
    bundle = next(o.data for o in cap.outputs if WIDGET_VIEW in o.data)
    cli = aml("history", "compare", *(run.id for run in done), cwd=project).stdout
    assert bundle["text/plain"] == cli.rstrip("\n")
    # y offers the numeric metrics only; x the varying arguments first, then metrics
    assert [label for label, _ in widget.y_picker.options] == ["accuracy", "loss"]
    assert [label for label, _ in widget.x_picker.options][:2] == [
        "reg (argument)", "depth (argument)"]
    assert "model" not in [label for label, _ in widget.y_picker.options]
    # Default: accuracy against reg, one point per run that logged accuracy
    assert widget.y_picker.value == "metric:accuracy" and widget.x_picker.value == "arg:reg"
    first = widget.scatter_view.value
    assert len(_points(first)) == 2 and "reg (argument)" in first
    # One click on y = loss: all three runs, redrawn
    widget.y_picker.value = "metric:loss"
    assert len(_points(widget.scatter_view.value)) == 3
    widget.x_picker.value = "arg:depth"
    assert "depth (argument)" in widget.scatter_view.value
    assert widget.scatter_view.value != first
    # The series view: loss over steps, one line per run with 4 points each
    assert widget.series_picker.value == "loss"
    lines = re.findall(r'class="aml-line"[^>]*points="([^"]+)"', widget.lines_view.value)
    assert [len(points.split()) for points in lines] == [4, 4, 4]


def test_sweep_compares_the_children_of_a_parent(ip: Any, magics: Any,
                                                 runs: tuple[Path, list[Any]]) -> None:
    _, done = runs
    magics.use_widgets = False
    store = magics.workspace().store
    parent = RunRecord(run_id=store.new_run_id("proj"), project="proj", kind="sweep",
                       status=RunStatus.COMPLETED)
    store.create_run(parent, submitter=False)
    children = []
    for value in (0.1, 0.2):
        child = RunRecord(run_id=store.new_run_id("proj"), project="proj",
                          parent_run_id=parent.run_id, status=RunStatus.COMPLETED,
                          command=["train.py", "--lr", str(value)], started_at=time.time(),
                          ended_at=time.time())
        store.create_run(child, submitter=False)
        store.add_metrics(child.run_id, [Metric("score", value * 10)])
        children.append(child.run_id)
    assert [r.run_id for r in store.children(parent.run_id)] == children
    _, cap = line(ip, "aml_compare", f"--sweep {parent.run_id[-6:]}")
    assert not cap.stderr
    header = cap.outputs[-1].data["text/plain"].splitlines()[0].split()
    assert header == ["RUN", *children]            # the children only, not the other runs
    assert len(_points(_scatter(cap.outputs[-1].data["text/html"]))) == 2


@pytest.mark.parametrize("args, expected", [
    ("", "%aml_compare: name runs (RUN_ID...), --last N or --sweep ID"),
    ("--last 0", "%aml_compare: --last N needs N >= 1"),
    ("--last 2 {run}", "%aml_compare: give one of run ids, --last N or --sweep ID, not RUN_ID..."
                       " and --last N"),
    ("--sweep {run}", "has no child runs (is it a sweep's parent?"),
    ("--last two", "%aml_compare: argument --last: invalid int value"),
    ("proj_0000000000000_ffff", "proj_0000000000000_ffff"),
])
def test_bad_input_is_one_line(ip: Any, runs: tuple[Path, list[Any]], args: str,
                               expected: str) -> None:
    _, done = runs
    _, cap = line(ip, "aml_compare", args.format(run=done[0].id))
    assert expected in one_error_line(cap)


def test_the_static_view_and_the_charts_load_no_widget_library() -> None:
    # Given a fresh interpreter, when the comparison, the charts and the static view are imported
    code = ("import sys, aml_magic.service.compare, aml_magic.frontends.notebook.widgets.chart_svg, "
            "aml_magic.frontends.notebook.widgets.compare_view, "
            "aml_magic.frontends.notebook.widgets.compare_magic; print('ipywidgets' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # Then ipywidgets is still not loaded: it comes with the widget only
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("argv, expected", [
    (["--reg", "10", "--depth=3"], {"reg": "10", "depth": "3"}),
    (["-l", "-0.5", "--verbose", "--seed", "1"], {"l": "-0.5", "verbose": "true", "seed": "1"}),
    (["data.csv", "0.5", "--fast"], {"arg 1": "data.csv", "arg 2": "0.5", "fast": "true"}),
])
def test_script_arguments_become_named_axes(argv: list[str], expected: dict[str, str]) -> None:
    from aml_magic.frontends.notebook.widgets.compare_view import parse_arguments
    assert parse_arguments(argv) == expected


def _model(runs: list[dict[str, Any]]) -> Any:
    from aml_magic.frontends.notebook.widgets.compare_view import CompareModel
    rows = [{"run_id": f"p_{i}_a", "status": "Completed", "target": "local",
             "environment": {}, **run} for i, run in enumerate(runs)]
    names = list(dict.fromkeys(n for row in rows for n in row.get("metrics", {})))
    return CompareModel({"runs": rows, "metrics": names, "environment_differences": []})


def test_y_axes_are_the_metrics_whose_values_are_all_numbers() -> None:
    model = _model([
        {"arguments": ["--lr", "0.1", "--opt", "adam"],
         "metrics": {"acc": 0.9, "model": "tree", "flags": [1, 2], "mixed": 1.0, "ok": True}},
        {"arguments": ["--lr", "0.2", "--opt", "adam"],
         "metrics": {"acc": 0.8, "model": "tree", "flags": [3], "mixed": "n/a", "nan": None}},
    ])
    assert [a.name for a in model.y_choices()] == ["acc"]
    # x: the argument that varies first, then the constant one, then scalar metrics
    assert [a.key for a in model.x_choices()] == [
        "arg:lr", "arg:opt", "metric:acc", "metric:model", "metric:mixed", "metric:ok"]
    x, y = model.default_axes()
    assert (x and x.key, y and y.key) == ("arg:lr", "metric:acc")


def test_the_widget_without_any_metric_says_there_is_nothing_to_draw() -> None:
    require_module("ipywidgets")
    from aml_magic.frontends.notebook.widgets.compare import CompareWidget
    widget = CompareWidget(_model([{"arguments": [], "metrics": {}}]))
    assert widget.x_picker.disabled and widget.y_picker.disabled
    assert "No chart" in widget.scatter_view.value
    assert "No metric series" in widget.lines_view.value
    assert widget._repr_mimebundle_()["text/plain"].startswith("RUN        p_0_a")
