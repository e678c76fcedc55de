"""Kernels from ``aml kernel install`` executing notebooks in a real Jupyter kernel (nbclient):
no ``%load_ext`` cell, ``%azureml`` in the first cell, and in a project kernel
(``<project>_<runconfig>``, as a Workbench notebook names it) ``%%aml_submit`` without ``-c``
goes to that run configuration. Kernelspecs go to a temporary Jupyter data folder."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from aml_magic.frontends.cli.main import main
from aml_magic.service.workspace import Workspace

from .test_azureml_history import streams


@pytest.fixture
def kernels_home(kernel_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary Jupyter data folder that ``--user`` installs into and nbclient reads."""
    data = tmp_path / "jupyter-data"
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(data))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter-path"))
    return data


def workbench_project(root: Path) -> Path:
    """A project with run configurations local, docker (``aml init``) and quick (on local)."""
    assert main(["init", str(root), "--no-kernels"]) == 0
    Workspace(root).create_run_configuration("quick", target="local")
    return root


def execute(project: Path, kernel: str, display: str, sources: list[str]) -> Any:
    """Save the notebook in the project as Workbench did (naming ``kernel``) and run it with
    the kernel it names, as Jupyter would; returns the executed notebook."""
    from nbclient import NotebookClient
    nb = new_notebook(cells=[new_code_cell(s) for s in sources], metadata={"kernelspec": {
        "name": kernel, "display_name": display, "language": "python"}})
    path = project / "analysis.ipynb"
    nbformat.write(nb, str(path))
    env = {k: v for k, v in os.environ.items() if k != "JPY_SESSION_NAME"}
    NotebookClient(nb, timeout=180, resources={"metadata": {"path": str(project)}}).execute(env=env)
    return nb


def script_runs(project: Path) -> list[Any]:
    return [r for r in Workspace(project).runs() if r.record.kind == "script"]


def test_a_workbench_notebook_runs_on_its_project_kernel_with_no_load_ext(
        kernels_home: Path, tmp_path: Path) -> None:
    # Given a project ChurnPrediction and its kernels installed by `aml kernel install`
    project = workbench_project(tmp_path / "ChurnPrediction")
    assert main(["kernel", "install", "--project", str(project)]) == 0
    # When a notebook naming churnprediction_local starts with %azureml and submits a cell
    nb = execute(project, "churnprediction_local", "ChurnPrediction local", [
        "%azureml history on",
        "%%aml_submit --wait\nprint('ran on the default target')",
        "%azureml history off"])
    first, submit = nb.cells[0], nb.cells[1]
    # Then the first output is the kernel's one line: cells here, %%aml_submit to 'local'
    assert streams(first, "stdout").splitlines()[0] == (
        "Kernel churnprediction_local: cells run here, on this machine; %%aml_submit sends to "
        f"'local' (aml_config/local.runconfig of {project}) unless given -c")
    assert "History on" in streams(first, "stdout"), first.outputs
    assert not [o for c in nb.cells for o in c.outputs if o.output_type == "error"]
    # And the cell ran on the project's local run configuration, tracked in its history
    runs = script_runs(project)
    assert [(r.record.run_configuration, r.status.value) for r in runs] == [("local", "Completed")]
    assert "ran on the default target" in runs[0].log_text()[0]
    assert "Kernel churnprediction_local" not in streams(submit, "stdout")  # shown once


def test_a_project_kernel_sends_to_its_own_run_configuration(kernels_home: Path,
                                                            tmp_path: Path) -> None:
    # Given a sample cloned under another folder name, whose notebook names Workbench's
    # churnprediction_quick kernel, and `aml kernel install` run in the project
    project = workbench_project(tmp_path / "MachineLearningSamples-ChurnPrediction")
    nbformat.write(new_notebook(metadata={"kernelspec": {
        "name": "churnprediction_quick", "display_name": "ChurnPrediction quick",
        "language": "python"}}), str(project / "saved.ipynb"))
    assert main(["kernel", "install", "--project", str(project)]) == 0
    assert (kernels_home / "kernels" / "churnprediction_quick" / "kernel.json").is_file()
    # When the notebook (one written for any kernel: it starts with %load_ext) runs on it and
    # submits without -c
    nb = execute(project, "churnprediction_quick", "ChurnPrediction quick", [
        "%load_ext aml_magic", "%%aml_submit --wait\nimport sys\nprint('quick', sys.argv[1:])\n"])
    # Then %load_ext says nothing (no "already loaded") and keeps the kernel's default, and
    # the run used 'quick' (not 'local', the first run configuration), as the line said
    assert streams(nb.cells[0], "stdout").splitlines() == [
        "Kernel churnprediction_quick: cells run here, on this machine; %%aml_submit sends to "
        f"'quick' (aml_config/quick.runconfig of {project}) unless given -c"]
    assert not streams(nb.cells[0], "stderr")
    runs = script_runs(project)
    assert [r.record.run_configuration for r in runs] == ["quick"]
    assert runs[0].status.value == "Completed"


def test_the_generic_kernel_has_the_magics_in_the_first_cell(kernels_home: Path,
                                                            tmp_path: Path) -> None:
    # Given the "Python (aml_magic)" kernel alone, outside any project
    elsewhere = tmp_path / "notebooks"
    elsewhere.mkdir()
    assert main(["kernel", "install", "--no-project"]) == 0
    # When a notebook's first cell uses a magic
    nb = execute(elsewhere, "aml-magic", "Python (aml_magic)", [
        "%azureml upload x", "%aml_runs"])
    # Then the magics are there (no "not found"), and no kernel line is printed
    text = "".join(streams(c, "stdout") + streams(c, "stderr") for c in nb.cells)
    assert "not found" not in text and "UsageError" not in text
    assert "Kernel " not in text
    assert "no aml_config/ folder" in text          # %aml_runs ran and said what to do
