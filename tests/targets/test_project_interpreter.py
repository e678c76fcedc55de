"""``pythonLocation: python`` (or ``python3``), the default of every Workbench ``local.compute``,
means the project's interpreter on the local target: the one running aml_magic, never whatever
PATH finds first (a pyenv shim, or nothing). An explicit path still wins. Real local runs."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aml_magic import Workspace
from aml_magic.domain.history.status import RunStatus
from tests._project import aml, write
from tests._wait import wait_until
from tests.targets.provenance_probe import PROBE, assert_recorded, probed

REPO = Path(__file__).resolve().parents[2]


def set_python_location(ws: Workspace, location: str | None) -> None:
    ws.config.write_compute(dataclasses.replace(ws.config.compute("local"),
                                                python_location=location))


@pytest.mark.parametrize("name", ["python", "python3"])
def test_a_bare_python_name_runs_the_projects_interpreter_not_the_one_on_path(
        project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    # Given PATH whose first `python`/`python3` is a shim that fails (as a pyenv shim without
    # the project's packages would)
    shims = tmp_path / "shims"
    shims.mkdir()
    for shim in ("python", "python3"):
        (shims / shim).write_text("#!/bin/sh\necho 'the shim ran' >&2\nexit 7\n")
        (shims / shim).chmod(0o755)
    monkeypatch.setenv("PATH", f"{shims}{os.pathsep}{os.environ['PATH']}")
    ws = Workspace(project)
    set_python_location(ws, name)
    write(project, "probe.py", PROBE)
    # When a run prints its interpreter
    run = ws.submit("local", "probe.py", wait=True)
    # Then it ran under this process's interpreter, and the record says so (pythonLocation as
    # configured beside it)
    assert run.status is RunStatus.COMPLETED, run.record.reason
    seen = probed(run.log_text()[0])
    assert seen["executable"] == sys.executable
    assert_recorded(run.record.provenance, seen, name)
    info = aml("history", "info", run.id, cwd=project).stdout
    assert seen["resolved"] in info and "the shim ran" not in run.log_text()[0]
    ws.close()


def test_an_explicit_path_still_wins(project: Path, tmp_path: Path) -> None:
    # Given pythonLocation a full path to another file of an interpreter
    other = tmp_path / "bin" / "python"
    other.parent.mkdir()
    other.symlink_to(os.path.realpath(sys.executable))
    ws = Workspace(project)
    set_python_location(ws, str(other))
    write(project, "probe.py", PROBE)
    # When a run prints its interpreter
    run = ws.submit("local", "probe.py", wait=True)
    # Then it is that path
    assert run.status is RunStatus.COMPLETED, run.record.reason
    seen = probed(run.log_text()[0])
    assert seen["executable"] == str(other)
    assert_recorded(run.record.provenance, seen, str(other))
    ws.close()


def test_the_adopt_suite_passes_with_no_python_on_path(tmp_path: Path) -> None:
    # Given a PATH with no `python` at all (only /usr/bin:/bin, where there is none)
    path = "/usr/bin:/bin"
    assert not any(os.path.exists(os.path.join(d, "python")) for d in path.split(":")), \
        "this machine has /usr/bin/python or /bin/python: the test proves nothing here"
    # When the adopt test that runs a Workbench project (pythonLocation: python) runs there
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(PATH=path, PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--basetemp",
         str(tmp_path / "inner"),
         "tests/test_project_adopt.py::test_a_local_run_does_not_report_the_projects_stale_outputs"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    # Then it passes
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "1 passed" in proc.stdout


def test_a_bare_python_name_gets_the_warm_launcher_and_the_interpreter_started_ahead(
        project: Path) -> None:
    # Given pythonLocation: python, and a process that submits again and again (a kernel)
    ws = Workspace(project)
    set_python_location(ws, "python")
    write(project, "cmd.py", "print('CMD', open('/proc/self/cmdline').read().split(chr(0))[1])\n")
    for _ in range(2):
        assert ws.submit("local", "cmd.py", wait=True).status is RunStatus.COMPLETED
    placement = ws.target_for(ws.config.compute("local")).placement   # type: ignore[attr-defined]
    # When the spare launcher is ready (it keys on the interpreter: the project's)
    wait_until(lambda: placement._warm is not None and placement._warm._spare is not None, 30,
               "the spare launcher")
    assert placement._warm.argv[0] == sys.executable
    run = ws.submit("local", "cmd.py", wait=True)
    # Then the run took the interpreter started ahead by that spare: the same interpreter
    assert run.status is RunStatus.COMPLETED, run.record.reason
    assert "_prestart.py" in run.log_text()[0], run.log_text()[0]
    assert run.record.provenance["python_executable" if "python_executable" in
                                 run.record.provenance else "python"] == sys.executable
    ws.close()
