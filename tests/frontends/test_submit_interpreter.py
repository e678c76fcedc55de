"""A submit's first lines name the interpreter the run uses, as ``history info`` shows it (CLI
``experiment submit`` and ``%%aml_submit``), so a user sees at once when PATH picked another
Python. Real local runs, a real IPython shell."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
from IPython.utils.capture import capture_output

from aml_magic.domain.history.status import RunStatus
from tests._project import aml, write

OWN = f"{sys.executable} -> {os.path.realpath(sys.executable)} (Python " \
      f"{'%d.%d.%d' % sys.version_info[:3]})"


def history_python(project: Path, run_id: str) -> str:
    info = aml("history", "info", run_id, cwd=project).stdout
    return next(line.split(":", 1)[1].strip() for line in info.splitlines()
                if line.startswith("python:"))


def test_cli_submit_names_the_interpreter_first(tmp_path: Path) -> None:
    # Given a project whose local target says pythonLocation: python (Workbench's default)
    project = tmp_path / "proj"
    aml("init", str(project), cwd=tmp_path)
    compute = project / "aml_config" / "local.compute"
    compute.write_text(compute.read_text() + "pythonLocation: python\n")
    write(project, "a.py", "print('ran')\n")
    # When submitted from the CLI
    proc = aml("experiment", "submit", "-c", "local", "a.py", cwd=project)
    # Then its first lines are the run id and the interpreter, as history info shows it
    first, second = proc.stderr.splitlines()[:2]
    run_id = first.split()[1]
    assert first == f"run {run_id}" and second.startswith("python: "), proc.stderr
    assert second == f"python: {history_python(project, run_id)}"
    assert os.path.realpath(sys.executable) in second and proc.stdout.strip() == "ran"


def test_an_async_cli_submit_keeps_stdout_the_run_id(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    aml("init", str(project), cwd=tmp_path)
    write(project, "a.py", "print('ran')\n")
    proc = aml("experiment", "submit", "-c", "local", "a.py", "-a", cwd=project)
    run_id = proc.stdout.strip()
    assert proc.stderr.splitlines()[0] == f"python: {history_python(project, run_id)}"


@pytest.mark.parametrize("wait", ["", "--wait"])
def test_cell_submit_prints_the_interpreter_first(ip: Any, magics: Any, tmp_path: Path,
                                                  wait: str) -> None:
    with capture_output():
        ip.run_line_magic("aml_init", "proj")
    project = tmp_path / "proj"
    # When a cell is submitted (in the background, or waiting)
    with capture_output() as cap:
        run = ip.run_cell_magic("aml_submit", f"-c local {wait}", "print('cell ran')\n")
    # Then the first printed line names the interpreter, as history info shows it
    assert cap.stdout.splitlines()[0] == f"python: {OWN}", cap.stdout
    run.wait(timeout=60)
    assert run.status is RunStatus.COMPLETED
    assert history_python(project, run.id) == OWN
