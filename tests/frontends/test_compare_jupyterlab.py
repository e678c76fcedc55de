"""``%aml_compare`` in JupyterLab in headless Chromium: a notebook makes three runs on the local
target that log metrics, then ``%aml_compare --last 3`` draws its chart; a click on another x
redraws it, a click on another y plots every run, and the series tab draws one line per run."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest

from .browser import chromium_page
from .test_jupyterlab import (ARTIFACTS, KERNEL_IDLE, REPO, _components,
                              running_lab)

NOTEBOOK = "compare_runs.ipynb"
COMMITTED = REPO / "docs" / "screenshots" / "compare.png"
TRAIN = """\
%%writefile proj/train.py
import argparse
from azureml.logging import get_azureml_logger
parser = argparse.ArgumentParser()
parser.add_argument("--reg", type=float)
parser.add_argument("--depth", type=int)
args = parser.parse_args()
log = get_azureml_logger()
for step in range(6):
    log.log("loss", round(args.reg / (step + 1) + args.depth / 50, 4))
if args.depth != 5:                      # this run never logs accuracy
    log.log("accuracy", round(1 - args.reg / 25 - args.depth / 100, 4))
"""
SUBMITS = "\n".join(f"%aml_submit -c local --wait train.py -- --reg {reg} --depth {depth}"
                    for reg, depth in (("10", "3"), ("5", "5"), ("2.5", "7")))
CELLS = ["%load_ext aml_magic", "%aml_init proj", TRAIN, SUBMITS, "%aml_compare --last 3"]


def _notebook(path: Path) -> None:
    import nbformat
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    nbformat.write(notebook, str(path))


@pytest.fixture
def lab(kernel_env: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    _components()
    root = tmp_path / "lab"
    root.mkdir()
    _notebook(root / NOTEBOOK)
    with running_lab(root, tmp_path) as url_of:
        yield url_of(NOTEBOOK), root


def _points(chart: Any) -> int:
    return int(chart.locator("svg.aml-scatter circle.aml-point").count())


@pytest.mark.timeout(180)
def test_compare_widget_draws_and_switches_its_chart(lab: tuple[str, Path]) -> None:
    from playwright.sync_api import expect
    url, root = lab
    with chromium_page(1280, 1200) as page:
        # Given the notebook open with its kernel ready, when every cell runs
        page.goto(url)
        page.wait_for_function(KERNEL_IDLE, timeout=60_000)
        page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        # Then the compare widget shows the three runs and accuracy against reg, one point
        # per run that logged accuracy (2 of 3)
        widget = page.locator(".aml-compare-widget").first
        chart = widget.locator(".aml-compare-scatter")
        chart.locator("svg.aml-scatter").wait_for(timeout=90_000)
        assert widget.locator(".aml-compare-table th code").count() == 3
        expect(chart.locator("circle.aml-point")).to_have_count(2)
        assert "reg (argument)" in chart.locator(".aml-axis-label").all_text_contents()
        before = chart.inner_html()
        # When x is switched to depth with one click, the chart is redrawn against depth
        widget.locator(".aml-compare-x button", has_text="depth (argument)").click()
        expect(chart.locator(".aml-axis-label", has_text="depth (argument)")).to_have_count(1)
        assert chart.inner_html() != before and _points(chart) == 2
        # And with y = loss (every run logged it) there is one point per run
        widget.locator(".aml-compare-x button", has_text="reg (argument)").click()
        widget.locator(".aml-compare-y button", has_text="loss").click()
        expect(chart.locator(".aml-axis-label", has_text="loss")).to_have_count(1)
        expect(chart.locator("circle.aml-point")).to_have_count(3)
        page.add_style_tag(content=".Toastify { display: none !important; }")  # news toast
        widget.scroll_into_view_if_needed()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / "compare.png"
        widget.screenshot(path=str(shot))
        # And the series tab draws loss over steps, one line per run, with a legend
        widget.locator(".lm-TabBar-tab", has_text="Series over steps").click()
        lines = widget.locator(".aml-compare-lines svg.aml-lines")
        lines.wait_for(timeout=10_000)
        expect(lines.locator("polyline.aml-line")).to_have_count(3)
        expect(lines.locator(".aml-legend-entry")).to_have_count(3)
        widget.screenshot(path=str(ARTIFACTS / "compare_series.png"))
        if os.environ.get("AML_UPDATE_SCREENSHOTS") == "1" or not COMMITTED.exists():
            COMMITTED.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, COMMITTED)
    assert (root / "proj" / "train.py").is_file()
