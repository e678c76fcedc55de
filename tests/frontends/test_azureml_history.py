"""``%azureml history on|off`` in notebooks executed by a real kernel (nbclient), the one-line
hints for other Workbench ``%azureml`` words, and run displays that a saved notebook keeps
with the run's final status."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import nbformat
import pytest
from IPython.utils.capture import capture_output
from nbformat.v4 import new_code_cell, new_notebook

from aml_magic.domain.history.status import RunStatus
from aml_magic.service.notebook_run import SHUTDOWN_REASON
from tests._project import aml
from tests._wait import wait_until

from .kernels import WIDGET_VIEW, KernelSession

LOAD = "%load_ext aml_magic"
LOG_TWO_METRICS = ("from azureml.logging import get_azureml_logger\n"
                   "log = get_azureml_logger()\n"
                   "log.log('acc', 0.9)\nlog.log('loss', 0.25)\nlog.log('acc', 0.95)")
WRITE_OUTPUT = ("import os\nos.makedirs('outputs', exist_ok=True)\n"
                "with open('outputs/model.txt', 'w') as fh:\n    fh.write('weights')")


def make_project(root: Path) -> Path:
    from aml_magic.domain.config import init_project
    init_project(root)
    return root


def execute(project: Path, name: str, sources: list[str], *,
            session_name: str | None = None) -> Any:
    """Write the notebook ``project/name`` and execute it in a real kernel started in the
    project (as Jupyter does: ``JPY_SESSION_NAME`` names the notebook when given); the kernel is
    shut down when the last cell is done. Returns the executed notebook, read back from disk."""
    from nbclient import NotebookClient
    nb = new_notebook(cells=[new_code_cell(source) for source in sources],
                      metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                               "language": "python"}})
    path = project / name
    nbformat.write(nb, str(path))
    env = {k: v for k, v in os.environ.items() if k != "JPY_SESSION_NAME"}
    if session_name is not None:
        env["JPY_SESSION_NAME"] = session_name
    NotebookClient(nb, timeout=180, kernel_name="python3",
                   resources={"metadata": {"path": str(project)}}).execute(env=env)
    nbformat.write(nb, str(path))
    return nbformat.read(str(path), as_version=4)


def streams(cell: Any, name: str) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.get("name") == name)


def only_run(project: Path) -> Any:
    from aml_magic.service.workspace import Workspace
    runs = Workspace(project).runs()
    assert len(runs) == 1, [r.id for r in runs]
    return runs[0]


def metric_values(run: Any) -> dict[str, list[Any]]:
    values: dict[str, list[Any]] = {}
    for metric in sorted(run.metrics(), key=lambda m: (m.name, m.step)):
        values.setdefault(metric.name, []).append(metric.value)
    return values


def test_history_on_off_tracks_the_notebook_as_a_run(kernel_env: Path, tmp_path: Path) -> None:
    # Given a project whose ./outputs/ already holds a file the notebook does not write
    project = make_project(tmp_path / "proj")
    (project / "outputs").mkdir()
    (project / "outputs" / "stale.txt").write_text("from an older run")
    # When a notebook logs before `on`, tracks, logs two metrics, writes an output, and stops
    nb = execute(project, "analysis.ipynb", [
        LOAD,
        "from azureml.logging import get_azureml_logger\n"
        "get_azureml_logger().log('before_on', 1)",
        "%azureml history on",
        "%azureml history on",
        LOG_TWO_METRICS,
        WRITE_OUTPUT,
        "%azureml history off",
        "%azureml history off",
        "get_azureml_logger().log('after_off', 2)",
    ], session_name=str(project / "analysis.ipynb"))
    assert all(o.output_type != "error" for c in nb.cells for o in c.outputs)
    # Then the history holds one notebook run on local, named after the notebook, Completed
    run = only_run(project)
    record = run.record
    assert (record.kind, record.script, record.target, record.run_configuration) == (
        "notebook", "analysis.ipynb", "local", None)
    assert record.status is RunStatus.COMPLETED and record.reason is None
    assert record.provenance["python_version"] and record.provenance["python"]
    # with both metrics (and nothing logged while history was off)
    assert metric_values(run) == {"acc": [0.9, 0.95], "loss": [0.25]}
    # and the file the kernel wrote as its only output
    assert [a.path for a in run.outputs()] == ["model.txt"]
    assert (run.folder / "outputs" / "model.txt").read_text() == "weights"
    # and the project snapshot, with the notebook itself kept in the run's copy
    manifest = json.loads((run.folder / "manifest.json").read_text())
    assert "analysis.ipynb" in manifest["files"]
    assert nbformat.read(str(run.folder / "work" / "analysis.ipynb"), as_version=4).cells
    # and its log says when it was tracked and what was collected
    log = run.log_text(0)[0]
    assert "history on: notebook " in log and "outputs: outputs/model.txt" in log
    # The cells said what happened, one line each, no error output
    on, again = streams(nb.cells[2], "stdout"), streams(nb.cells[3], "stdout")
    assert on.startswith(f"History on: this notebook is run {run.id}") and "analysis.ipynb" in on
    assert again.startswith("History is already on") and run.id in again
    off, off_again = streams(nb.cells[6], "stdout"), streams(nb.cells[7], "stdout")
    assert off.strip() == (f"History off: run {run.id} Completed with 3 metric value(s); "
                           "outputs: outputs/model.txt")
    assert off_again.startswith("History is already off")
    assert all(streams(nb.cells[i], "stderr") == "" for i in (2, 3, 6, 7))
    # And `aml history list` shows it with the notebook's name and its metrics
    listed = json.loads(aml("history", "list", "-o", "json", cwd=project).stdout)
    assert [(r["run_id"], r["script"], r["status"], r["acc"]) for r in listed] == [
        (run.id, "analysis.ipynb", "Completed", 0.95)]
    table = aml("history", "list", cwd=project).stdout.splitlines()
    assert table[0].split()[:6] == ["RUN", "ID", "STATUS", "STARTED", "DURATION", "SCRIPT"]
    assert run.id in table[1] and "analysis.ipynb" in table[1]


def test_kernel_shutdown_with_history_on_ends_the_run(kernel_env: Path, tmp_path: Path) -> None:
    # Given a kernel that cannot tell its notebook's name (no JPY_SESSION_NAME)
    project = make_project(tmp_path / "proj")
    # When the notebook turns history on, logs, writes an output and the kernel shuts down
    # without `%azureml history off`
    execute(project, "unnamed.ipynb", [LOAD, "%azureml history on", LOG_TWO_METRICS,
                                       WRITE_OUTPUT])
    # Then the run ends Completed with the metrics and the output, saying why it ended
    run = only_run(project)
    wait_until(lambda: run.refresh().status.is_terminal(), 30, f"{run.id} ended")
    assert run.record.status is RunStatus.COMPLETED
    assert run.record.reason == SHUTDOWN_REASON
    assert (run.record.kind, run.record.script) == ("notebook", "notebook")
    assert metric_values(run) == {"acc": [0.9, 0.95], "loss": [0.25]}
    assert [a.path for a in run.outputs()] == ["model.txt"]


def test_killed_kernel_fails_its_notebook_run(kernel_env: Path, tmp_path: Path) -> None:
    from aml_magic.domain.history.stale import NOTEBOOK_KERNEL_GONE
    project = make_project(tmp_path / "proj")
    session = KernelSession(project)
    try:
        # Given a kernel with history on that has logged metrics
        for source in (LOAD, "%azureml history on", LOG_TWO_METRICS):
            assert not [o for o in session.run(source).outputs if o.output_type == "error"]
        # Then the metrics are in history after the cell, while the run is still Running
        run = only_run(project)
        assert run.refresh().status is RunStatus.RUNNING
        assert metric_values(run) == {"acc": [0.9, 0.95], "loss": [0.25]}
        # When the kernel is killed (SIGKILL: no atexit, no `off`)
        session.km.shutdown_kernel(now=True)
    finally:
        session.kc.stop_channels()
    # Then the next look ends the run Failed, saying the kernel went away, metrics kept
    wait_until(lambda: run.refresh().status.is_terminal(), 30, f"{run.id} ended")
    assert run.record.status is RunStatus.FAILED
    assert run.record.reason == NOTEBOOK_KERNEL_GONE
    assert metric_values(run) == {"acc": [0.9, 0.95], "loss": [0.25]}


@pytest.mark.parametrize(("words", "equivalent"), [
    ("experiment submit -c local train.py", "%%aml_submit -c NAME"),
    ("history list", "%aml_runs"),
    ("history info -r abc", "%aml_run RUN_ID"),
    ("computetarget attach remote --name vm", "%aml_attach"),
    ("project restore --run-id abc", "aml project restore --run-id"),
    ("frobnicate now", "%azureml history on|off"),
    ("", "%azureml history on|off"),
])
def test_other_azureml_words_print_one_hint(ip: Any, magics: Any, words: str,
                                            equivalent: str) -> None:
    # When a Workbench %azureml word other than `history on|off` is used (no project needed)
    with capture_output() as cap:
        result = ip.run_line_magic("azureml", words)
    # Then one line names the aml_magic equivalent; nothing else, no traceback
    assert result is None and cap.stderr == ""
    lines = cap.stdout.strip().splitlines()
    assert len(lines) == 1 and equivalent in lines[0], cap.stdout


def test_history_on_outside_a_project_says_how_to_make_one(ip: Any, magics: Any) -> None:
    magics.notebook_history = None
    with capture_output() as cap:
        ip.run_line_magic("azureml", "history on")
    lines = cap.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "%aml_init" in lines[0]
    assert "Traceback" not in cap.stderr and cap.stdout == ""


def test_history_on_again_after_off_is_a_new_run(ip: Any, magics: Any, tmp_path: Path) -> None:
    # Given a project and the in-process shell, history turned on and off twice
    project = make_project(tmp_path / "proj")
    magics.project = project
    magics.notebook_history = None
    before = os.environ.get("AML_MAGIC_METRICS_FILE")
    with capture_output() as cap:
        for value in (1.0, 2.0):
            ip.run_line_magic("azureml", "history on")
            ip.run_cell(f"from azureml.logging import get_azureml_logger\n"
                        f"get_azureml_logger().log('score', {value})")
            ip.run_line_magic("azureml", "history off")
    assert cap.stderr == "", cap.stderr
    # Then there are two runs, each with its own metric numbered from step 0
    from aml_magic.service.workspace import Workspace
    runs = Workspace(project).runs()
    assert len(runs) == 2 and all(r.record.status is RunStatus.COMPLETED for r in runs)
    newest, oldest = runs
    assert [(m.value, m.step) for m in oldest.metrics()] == [(1.0, 0)]
    assert [(m.value, m.step) for m in newest.metrics()] == [(2.0, 0)]
    # and the kernel's logger points where it did before
    assert os.environ.get("AML_MAGIC_METRICS_FILE") == before


def widget_text(cell: Any) -> list[str]:
    return [o.data["text/plain"] for o in cell.outputs
            if o.output_type == "display_data" and WIDGET_VIEW in o.data]


def test_saved_notebook_shows_the_final_status_of_a_run(kernel_env: Path,
                                                        tmp_path: Path) -> None:
    # Given a notebook that submits a short run and waits for it
    project = make_project(tmp_path / "proj")
    executed = execute(project, "submit.ipynb", [
        LOAD, "%%aml_submit -c local --wait\nprint('short run done')"])
    # When it is saved and read back, the widget's text fallback (the one output of that
    # cell that shows the run) says Completed, never Running
    shown = widget_text(executed.cells[1])
    assert len(shown) == 1, executed.cells[1].outputs
    assert "Completed" in shown[0] and "Running" not in shown[0], shown[0]
    assert "short run done" in shown[0]
    html = next(o.data["text/html"] for o in executed.cells[1].outputs
                if o.output_type == "display_data")
    assert "Completed" in html


def test_summary_without_widgets_turns_final_in_place(ip: Any, magics: Any,
                                                      tmp_path: Path) -> None:
    # Given a front end without ipywidgets
    make_project(tmp_path / "proj")
    magics.use_widgets = False
    # When a cell is submitted with --wait
    with capture_output() as cap:
        ip.run_cell_magic("aml_submit", "-c local --wait --project proj",
                          "print('no widgets')")
    # Then the summary shown at submit is replaced (same display id) by a final one
    shown = [o for o in cap.outputs if "text/plain" in o.data]
    first, last = shown[0], shown[-1]
    assert first.transient and last.transient
    assert last.transient["display_id"] == first.transient["display_id"]
    assert last.update and "Completed" in last.data["text/plain"]
    assert "no widgets" in last.data["text/plain"]


def test_notebook_name_comes_from_the_front_end(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from aml_magic.service.notebook_run import notebook_path, script_name
    monkeypatch.setenv("JPY_SESSION_NAME", "/srv/from-env.ipynb")
    # VS Code's variable first, then ipykernel's __session__, then the environment
    assert notebook_path({"__vsc_ipynb_file__": "/a/vs.ipynb", "__session__": "/b.ipynb"}) \
        == "/a/vs.ipynb"
    assert notebook_path({"__session__": "/b.ipynb"}) == "/b.ipynb"
    assert notebook_path({}) == "/srv/from-env.ipynb"
    monkeypatch.delenv("JPY_SESSION_NAME")
    assert notebook_path({"__session__": ""}) is None
    # The script name: the path inside the project, the file name outside it, else "notebook"
    root = tmp_path / "proj"
    (root / "sub").mkdir(parents=True)
    assert script_name(str(root / "sub" / "iris.ipynb"), root.resolve()) == "sub/iris.ipynb"
    assert script_name("/elsewhere/iris.ipynb", root.resolve()) == "iris.ipynb"
    assert script_name(None, root.resolve()) == "notebook"
