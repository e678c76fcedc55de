"""The demo notebooks executed top to bottom with nbclient on a real kernel."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest

from aml_magic.domain.history.status import RunStatus

from .conftest import REPO
from .kernels import WIDGET_VIEW

NOTEBOOKS = REPO / "demo_notebooks"


def execute(name: str, workdir: Path) -> Any:
    from nbclient import NotebookClient
    nb = nbformat.read(str(NOTEBOOKS / name), as_version=4)
    NotebookClient(nb, timeout=180, kernel_name="python3",
                   resources={"metadata": {"path": str(workdir)}}).execute()
    nbformat.write(nb, str(workdir / name))
    return nb


def outputs(nb: Any, index: int) -> tuple[str, str, list[dict[str, Any]]]:
    cell = nb.cells[index]
    stdout = "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stdout")
    stderr = "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stderr")
    data = [o.data for o in cell.outputs if "data" in o]
    return stdout, stderr, data


def code_index(nb: Any, startswith: str) -> int:
    return next(i for i, c in enumerate(nb.cells)
                if c.cell_type == "code" and c.source.startswith(startswith))


def test_quickstart_notebook_runs_to_completed(kernel_env: Path, tmp_path: Path) -> None:
    # When the quickstart notebook runs top to bottom
    nb = execute("01_quickstart_local.ipynb", tmp_path)
    # Then the submit cell shows a widget (with readable fallbacks) and the run completes
    _, stderr, data = outputs(nb, code_index(nb, "%%aml_submit"))
    assert stderr == "" and any(WIDGET_VIEW in d and "text/html" in d for d in data)
    stdout, _, _ = outputs(nb, code_index(nb, "print(run.wait"))
    assert stdout.splitlines()[0] == "Completed"
    _, _, shown = outputs(nb, code_index(nb, "%aml_run"))
    plain = next(d["text/plain"] for d in shown if WIDGET_VIEW in d)
    assert "Completed" in plain and "training finished" in plain
    _, _, table = outputs(nb, code_index(nb, "%aml_runs"))
    assert "Completed" in table[0]["text/plain"]
    from aml_magic.service.workspace import Workspace
    runs = Workspace(tmp_path / "demo_project").runs()
    assert [r.status for r in runs] == [RunStatus.COMPLETED]
    assert {a.path for a in runs[0].outputs()} == {"model.txt"}


def test_all_magics_notebook(kernel_env: Path, tmp_path: Path) -> None:
    nb = execute("02_all_magics.ipynb", tmp_path)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert all(o.output_type != "error" for o in cell.outputs), cell.source
            stderr = "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stderr")
            if stderr:
                assert len(stderr.strip().splitlines()) == 1 and stderr.startswith("Error: "), stderr
    _, stderr, _ = outputs(nb, code_index(nb, "%aml_submit -c local train.py"))
    assert "%aml_init" in stderr
    _, stderr, _ = outputs(nb, code_index(nb, "%aml_submit -c nope"))
    assert "docker, local" in stderr or "cpu, docker, local" in stderr
    _, _, form = outputs(nb, code_index(nb, "%aml_attach   #"))
    assert any(WIDGET_VIEW in d for d in form)
    stdout, _, _ = outputs(nb, code_index(nb, "cell_run = _"))
    assert stdout.strip() == "Completed"
    stdout, _, _ = outputs(nb, code_index(nb, "import time; time.sleep(1)"))
    assert "Canceled" in stdout
    from aml_magic.service.workspace import Workspace
    ws = Workspace(tmp_path / "magics_project")
    runs = ws.store.list_runs()
    by_kind: dict[str, list[Any]] = {}
    for record in runs:
        by_kind.setdefault(record.kind, []).append(record)
    scripts = [r for r in by_kind["script"] if r.parent_run_id is None]
    assert sorted(r.status.value for r in scripts) == ["Canceled", "Completed", "Completed"]
    # the sweep: a Completed parent, 4 Completed children, compared in a widget with a chart
    [parent] = by_kind["sweep"]
    children = [r for r in by_kind["script"] if r.parent_run_id == parent.run_id]
    assert parent.status is RunStatus.COMPLETED and len(children) == 4
    assert all(c.status is RunStatus.COMPLETED for c in children)
    _, _, compared = outputs(nb, code_index(nb, "%aml_compare --sweep"))
    assert any(WIDGET_VIEW in d for d in compared)
    assert all(c.run_id in compared[0]["text/plain"] for c in children)
    # the notebook as a run: its metric and the output it wrote
    [tracked] = by_kind["notebook"]
    assert tracked.status is RunStatus.COMPLETED
    assert [m.name for m in ws.store.metrics(tracked.run_id)] == ["cells_seen"]
    assert [a.path for a in ws.run(tracked.run_id).outputs()] == ["notes.txt"]
    stdout, _, _ = outputs(nb, code_index(nb, "%azureml experiment"))
    assert len(stdout.strip().splitlines()) == 1 and "%%aml_submit" in stdout
    assert any(r.run_configuration == "cpu" for r in runs)


@pytest.mark.parametrize("name", ["01_quickstart_local.ipynb", "02_all_magics.ipynb"])
def test_committed_notebooks_have_no_outputs(name: str) -> None:
    nb = nbformat.read(str(NOTEBOOKS / name), as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
