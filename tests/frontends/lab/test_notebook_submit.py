"""Notebooks as runs in real JupyterLab and Chromium: the file browser's "Submit as run…" and
the notebook toolbar's button open the submit dialog on the notebook, with a parameters field;
the dialog starts on the last used run configuration whose target is prepared (never an
unprepared one); the run's executed notebook is listed among its outputs and opens, read-only,
in Lab."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from tests._wait import wait_until

from ..sidebar_page import SIDEBAR_TAB, call_api, open_submit_dialog
from .pages import LabProject, sidebar_page


def analysis(root: Path) -> None:
    """A notebook with a cell tagged ``parameters`` and one that prints what it got."""
    nb = nbformat.v4.new_notebook()
    parameters = nbformat.v4.new_code_cell("lr = 1.0\nname = 'base'")
    parameters.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Analysis"), parameters,
                nbformat.v4.new_code_cell("print('trained', lr * 2, name)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, str(root / "analysis.ipynb"))


def add_local_target(project: LabProject, name: str) -> None:
    """A second local target and its run configuration (prepared: a local target always is)."""
    config = project.path / "aml_config"
    (config / f"{name}.compute").write_text((config / "local.compute").read_text())
    (config / f"{name}.runconfig").write_text(
        (config / "local.runconfig").read_text().replace('Target: "local"', f'Target: "{name}"'))


def is_prepared(project: LabProject, target: str) -> bool | None:
    """What the environment route says (an error, e.g. no Docker engine: not prepared)."""
    status, data = call_api(project.lab, "GET", f"targets/{target}/environment",
                            project=project.name)
    return data.get("prepared") if status == 200 else None


def wait_run(project: LabProject, run_id: str, status: str = "Completed") -> dict:
    def ended() -> dict | None:
        run = project.api("GET", f"runs/{run_id}")
        return run if run["status"] in ("Completed", "Failed", "Canceled") else None
    run = wait_until(ended, 120, f"run {run_id} ended")
    assert run["status"] == status, run
    return run


@pytest.mark.timeout(300)
def test_a_notebook_submitted_from_the_file_browser_runs_with_its_parameter(
        lab: LabProject) -> None:
    # Given a project with a parameterized notebook
    analysis(lab.path)
    with sidebar_page(lab) as sb:
        # When "Submit as run…" is chosen on it in the file browser
        dialog = open_submit_dialog(sb.page, "analysis.ipynb", "notebook")
        # Then the dialog names the notebook and asks for parameters, not arguments
        assert dialog.locator(".aml-SubmitScript").inner_text() == \
            f"Run {lab.name}/analysis.ipynb with:"
        assert dialog.locator(".aml-SubmitArguments").count() == 0
        dialog.get_by_label("Parameters").fill("lr=0.25 name=lab")
        assert dialog.locator(".aml-SubmitConfig").input_value() == "local"
        dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
        # Then the run executes the notebook with the injected values, shown in the sidebar
        detail = sb.node.locator(".aml-RunDetail")
        detail.locator(".aml-Log", has_text="trained 0.5 lab").wait_for(timeout=120_000)
        runs = lab.api("GET", "runs")["runs"]
        assert len(runs) == 1 and runs[0]["command"] == [
            "analysis.ipynb", "--lr=0.25", "--name=lab"]
        wait_run(lab, runs[0]["run_id"])
        # When the executed notebook's "View" is pressed among the run's outputs
        view = detail.get_by_role("button", name="View analysis.ipynb")
        view.wait_for(timeout=60_000)
        view.click()
        # Then it opens in the main area, read-only, with the injected cell and its output
        shown = sb.page.locator(".aml-ExecutedNotebook")
        shown.wait_for(timeout=30_000)
        injected = shown.locator(".aml-NbCell[data-tags='injected-parameters']")
        assert "lr = 0.25" in injected.inner_text() and "name = 'lab'" in injected.inner_text()
        shown.locator(".aml-NbOutputs", has_text="trained 0.5 lab").wait_for(timeout=30_000)
        assert shown.locator("h1", has_text="Analysis").count() == 1      # markdown rendered
        tab = sb.page.locator(".lm-TabBar-tab", has_text=f"analysis.ipynb (run {runs[0]['run_id']})")
        assert tab.count() == 1


@pytest.mark.timeout(300)
def test_the_notebook_toolbar_button_submits_the_open_notebook(lab: LabProject) -> None:
    # Given the notebook open in Lab
    analysis(lab.path)
    with sidebar_page(lab) as sb:
        sb.page.goto(lab.lab.url(f"lab/tree/{lab.name}/analysis.ipynb"))
        button = sb.page.locator(".jp-NotebookPanel-toolbar .aml-SubmitNotebookButton")
        button.wait_for(timeout=60_000)
        # When its "Submit as run" toolbar button is pressed
        button.get_by_role("button").click()
        # Then the submit dialog opens on that notebook
        dialog = sb.page.locator(".jp-Dialog")
        assert dialog.locator(".aml-SubmitScript").inner_text() == \
            f"Run {lab.name}/analysis.ipynb with:"
        dialog.get_by_label("Parameters").fill("lr=3")
        dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
        # And the run executes it with the parameter
        run = wait_until(lambda: (lab.api("GET", "runs")["runs"] or [None])[0], 60, "the run")
        assert run["command"] == ["analysis.ipynb", "--lr=3"]
        wait_run(lab, run["run_id"])
        log = lab.api("GET", f"runs/{run['run_id']}/log")
        assert "trained 6 base" in log["text"]


@pytest.mark.timeout(300)
def test_the_dialog_starts_on_the_last_prepared_target_never_an_unprepared_one(
        lab: LabProject) -> None:
    # Given three run configurations: docker (not prepared), fast and local (local: prepared)
    analysis(lab.path)
    add_local_target(lab, "fast")
    configs = [c["name"] for c in lab.api("GET", "runconfigs")["run_configurations"]]
    prepared = {c: is_prepared(lab, c) for c in configs}
    assert prepared["docker"] is not True and prepared["fast"] and prepared["local"], prepared
    first_prepared = next(c for c in configs if prepared[c])
    with sidebar_page(lab) as sb:
        # When the dialog opens with nothing remembered
        dialog = open_submit_dialog(sb.page, "analysis.ipynb", "notebook")
        select = dialog.locator(".aml-SubmitConfig")
        # Then it starts on the first prepared target's configuration, not docker
        assert select.input_value() == first_prepared
        # When "local" is chosen and submitted
        other = "local" if first_prepared != "local" else "fast"
        select.select_option(other)
        dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
        dialog.wait_for(state="detached", timeout=30_000)
        wait_until(lambda: lab.api("GET", "runs")["total"] == 1, 30, "the run recorded")
        # (the command then brings the Runs sidebar forward: wait for it, or it may hide the
        # file browser under the next right-click)
        sb.page.locator(f"{SIDEBAR_TAB}.lm-mod-current").wait_for(timeout=30_000)
        # Then the next dialog starts on it: the last one used, as it is prepared
        dialog = open_submit_dialog(sb.page, "analysis.ipynb", "notebook")
        assert dialog.locator(".aml-SubmitConfig").input_value() == other
        dialog.locator(".jp-Dialog-button.jp-mod-reject").click()
        dialog.wait_for(state="detached", timeout=30_000)
        # When the remembered one is the unprepared docker, the dialog falls back again
        sb.page.evaluate("""(project) => localStorage.setItem('aml-magic:last-submit',
                                JSON.stringify({[project]: 'docker'}))""", lab.name)
        dialog = open_submit_dialog(sb.page, "analysis.ipynb", "notebook")
        assert dialog.locator(".aml-SubmitConfig").input_value() == first_prepared
        dialog.locator(".jp-Dialog-button.jp-mod-reject").click()
