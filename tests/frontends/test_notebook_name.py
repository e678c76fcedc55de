"""A notebook run (``%azureml history on``) is named after its notebook file, also when the
notebook is executed from the command line (``jupyter execute``, ``jupyter nbconvert
--execute``), where no front end sets ``JPY_SESSION_NAME``: real kernels, real commands."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from aml_magic.service.notebook_launcher import launcher_notebook, resolve_session_path

CELLS = ["%load_ext aml_magic", "%azureml history on",
         "from azureml.logging import get_azureml_logger\nget_azureml_logger().log('acc', 0.5)",
         "%azureml history off"]
COMMANDS = {
    "jupyter execute": [str(Path(sys.executable).parent / "jupyter-execute"), "--inplace"],
    "nbconvert --execute": ["-m", "nbconvert", "--to", "notebook", "--execute", "--inplace"],
}


@pytest.mark.kernel
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_notebook_executed_from_the_command_line_names_its_run(
        kernel_env: Path, tmp_path: Path, command: str) -> None:
    from aml_magic.domain.config import init_project
    from aml_magic.service.workspace import Workspace
    # Given a Workbench-style notebook in a subfolder of a project
    project = tmp_path / "proj"
    init_project(project)
    (project / "notebooks").mkdir()
    notebook = project / "notebooks" / "iris.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(c) for c in CELLS], metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}),
        str(notebook))
    # When it is executed by the command, from the project, with no session name set
    env = {k: v for k, v in os.environ.items() if k != "JPY_SESSION_NAME"}
    done = subprocess.run([sys.executable, *COMMANDS[command], "notebooks/iris.ipynb"],
                          cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    # Then its run is named after the notebook's path in the project, not "notebook"
    [run] = Workspace(project).runs()
    assert (run.record.kind, run.record.script) == ("notebook", "notebooks/iris.ipynb")
    assert run.record.target_state.notebook == str(notebook)
    # and the notebook file itself was kept with the run, as with a named session
    assert (run.folder / "work" / "notebooks" / "iris.ipynb").is_file()
    said = nbformat.read(str(notebook), as_version=4).cells[1].outputs[0]["text"]
    assert "(notebooks/iris.ipynb)" in said


def test_the_launcher_is_read_from_its_command_line(tmp_path: Path) -> None:
    # Given a process whose arguments name a notebook (relative to its own folder) and another
    (tmp_path / "a.ipynb").write_text("{}")
    proc = subprocess.Popen([sys.executable, "-c", "import sys; print('ready', flush=True); "
                             "sys.stdin.read()", "--flag.ipynb", "missing.ipynb", "a.ipynb",
                             "b.ipynb"], cwd=tmp_path, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"   # exec'd
        # Then the first existing .ipynb argument is the notebook, as an absolute path
        assert launcher_notebook(proc.pid) == str(tmp_path / "a.ipynb")
    finally:
        proc.communicate(b"")
    # And a process without one (this test runner) names none
    assert launcher_notebook(os.getpid()) is None


def test_a_relative_session_name_is_found_from_the_kernels_folder(tmp_path: Path) -> None:
    # Jupyter Server gives the path from its root when the front end sent no name
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "nb.ipynb").write_text("{}")
    kernel_cwd = tmp_path / "proj"
    assert resolve_session_path("proj/nb.ipynb", kernel_cwd) == kernel_cwd / "nb.ipynb"
    assert resolve_session_path("nb.ipynb", kernel_cwd) == kernel_cwd / "nb.ipynb"
    assert resolve_session_path("/abs/x.ipynb", kernel_cwd) == Path("/abs/x.ipynb")
    assert resolve_session_path("gone/x.ipynb", kernel_cwd) == kernel_cwd / "gone" / "x.ipynb"
