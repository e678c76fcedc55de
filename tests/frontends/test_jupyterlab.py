"""JupyterLab in headless Chromium (Debian's chromium, driven by Playwright with
``executable_path``; never ``playwright install``): open the quickstart notebook, run all cells,
and see the live run widget reach Completed with a log line printed by the submitted cell."""
from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Callable, Iterator

import pytest

from tests._require import require_module

from .browser import chromium_page, jupyterlab, require_chromium
from .conftest import REPO

NOTEBOOK = "01_quickstart_local.ipynb"
ARTIFACTS = REPO / "tests" / "artifacts"
COMMITTED = REPO / "docs" / "screenshots" / "quickstart_widget.png"


def _components() -> None:
    for module in ("playwright.sync_api", "jupyterlab", "jupyterlab_widgets"):
        require_module(module, "pip install -e '.[test]'")
    require_chromium()


@contextlib.contextmanager
def running_lab(root: Path, tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """A JupyterLab server on loopback serving ROOT (its state under TMP_PATH); yields a
    function giving the URL (with the token) that opens a notebook of ROOT."""
    with jupyterlab(root, tmp_path) as lab:
        yield lambda notebook: lab.url(f"lab/tree/{notebook}")


KERNEL_IDLE = (
    "() => window.jupyterapp && window.jupyterapp.shell.currentWidget && "
    "window.jupyterapp.shell.currentWidget.sessionContext && "
    "window.jupyterapp.shell.currentWidget.sessionContext.session && "
    "window.jupyterapp.shell.currentWidget.sessionContext.session.kernel && "
    "window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'")


@pytest.fixture
def lab(kernel_env: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A JupyterLab server on loopback serving a temporary copy of the demo notebook."""
    _components()
    root = tmp_path / "lab"
    root.mkdir()
    shutil.copy(REPO / "demo_notebooks" / NOTEBOOK, root / NOTEBOOK)
    with running_lab(root, tmp_path) as url_of:
        yield url_of(NOTEBOOK), root


@pytest.mark.timeout(150)
def test_quickstart_in_jupyterlab_shows_completed_widget(lab: tuple[str, Path]) -> None:
    url, root = lab
    with chromium_page(1280, 1000) as page:
        # Given the notebook open with its kernel ready
        page.goto(url)
        page.wait_for_function(KERNEL_IDLE, timeout=60_000)
        # When every cell runs
        page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        # Then the submit cell's live widget reaches Completed and shows the cell's log line
        widget = page.locator(".aml-run-widget").first
        widget.locator(".aml-status", has_text="Completed").wait_for(timeout=60_000)
        widget.locator(".aml-log", has_text="training finished").wait_for(timeout=10_000)
        assert "epoch 0: loss=" in widget.locator(".aml-log").inner_text()
        widget.scroll_into_view_if_needed()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / "quickstart_widget.png"
        widget.screenshot(path=str(shot))
        page.screenshot(path=str(ARTIFACTS / "quickstart_page.png"))
        # And the metrics tab draws the loss series as a sparkline
        widget.locator(".lm-TabBar-tab", has_text="Metrics").click()
        widget.locator(".aml-metrics svg.aml-sparkline").wait_for(timeout=10_000)
        widget.screenshot(path=str(ARTIFACTS / "quickstart_metrics.png"))
        if os.environ.get("AML_UPDATE_SCREENSHOTS") == "1" or not COMMITTED.exists():
            COMMITTED.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, COMMITTED)
    assert (root / "demo_project" / "train.py").is_file()
