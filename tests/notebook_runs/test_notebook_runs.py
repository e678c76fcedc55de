"""A notebook as a run: executed headless with nbclient in the run's interpreter, parameters
injected papermill-style as literals, the executed notebook kept as an output, a failing cell
failing the run with its error as the hint. Real local runs (and the CLI)."""
from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from aml_magic import Workspace
from aml_magic.agent.compat._aml_notebook import inject, parameters_source, parse_parameters
from aml_magic.domain.history.status import RunStatus
from aml_magic.errors import AmlError
from tests._project import aml


def notebook(root: Path, name: str, *cells: tuple[str, list[str]]) -> None:
    """Write a notebook of code cells (source, tags) to ROOT/NAME."""
    nb = nbformat.v4.new_notebook()
    for source, tags in cells:
        cell = nbformat.v4.new_code_cell(source)
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, str(root / name))


ANALYSIS = (
    ("lr = 1.0\nepochs = 1\nname = 'base'", ["parameters"]),
    ("import os\nfrom azureml.logging import get_azureml_logger\n"
     "print('trained', lr * epochs, type(lr).__name__, name)\n"
     "get_azureml_logger().log('score', lr * epochs)", []),
    ("open('outputs/side.txt', 'w').write(str(epochs))", []),
)


def test_parameters_are_literals_or_strings_never_code() -> None:
    # Given the ways a notebook's parameters are spelled
    found = parse_parameters(["--param", "lr=0.1", "--epochs", "3", "--name=__import__('os')",
                              "--flag", "--learning-rate", "-0.5"])
    # Then each is a name and a text value, and the injected code holds literals only
    assert found == {"lr": "0.1", "epochs": "3", "name": "__import__('os')", "flag": "True",
                     "learning_rate": "-0.5"}
    source = parameters_source(found)
    assert "lr = 0.1\n" in source and "epochs = 3\n" in source and "flag = True\n" in source
    assert "name = \"__import__('os')\"\n" in source and "learning_rate = -0.5\n" in source
    tricky = parameters_source({"big": "1e999", "nan": "nan", "lst": "[1, 'a']", "nl": "a\nb"})
    assert "big = '1e999'\n" in tricky and "nan = 'nan'\n" in tricky
    assert "lst = [1, 'a']\n" in tricky and "nl = 'a\\nb'\n" in tricky
    for bad in (["--param", "lr"], ["positional"], ["--param", "import=1"], ["--1x", "2"]):
        with pytest.raises(ValueError):
            parse_parameters(bad)


def test_the_parameters_cell_follows_the_tagged_cell_or_leads() -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("a = 1"),
                                         nbformat.v4.new_code_cell("lr = 1")])
    nb.cells[1].metadata["tags"] = ["parameters"]
    inject(nb, {"lr": "0.1"}, nbformat.v4.new_code_cell)
    assert [c.source.splitlines()[-1] for c in nb.cells] == ["a = 1", "lr = 1", "lr = 0.1"]
    assert nb.cells[2].metadata["tags"] == ["injected-parameters"]
    inject(nb, {"lr": "0.2"}, nbformat.v4.new_code_cell)      # an executed copy: replaced
    assert len(nb.cells) == 3 and nb.cells[2].source.endswith("lr = 0.2\n")
    untagged = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("a = 1")])
    inject(untagged, {"lr": "0.1"}, nbformat.v4.new_code_cell)
    assert untagged.cells[0].metadata["tags"] == ["injected-parameters"]


def test_a_notebook_run_injects_parameters_and_keeps_the_executed_notebook(
        project: Path) -> None:
    # Given a notebook with a cell tagged parameters
    notebook(project, "analysis.ipynb", *ANALYSIS)
    # When it is submitted with parameters, spelled both ways
    run = Workspace(project).submit("local", "analysis.ipynb",
                                    ["--param", "lr=0.1", "--epochs", "3"])
    status = run.wait(timeout=120)
    text, _ = run.log_text()
    # Then it completed, the cells saw the injected values, and the log shows cell progress
    assert status is RunStatus.COMPLETED, (run.record.reason, text)
    assert "trained 0.30000000000000004 float base" in text
    assert "[notebook] cell 1/4" in text and "[notebook] cell 4/4" in text
    # And the record names the notebook and its parameters as --NAME=VALUE
    assert run.record.command == ["analysis.ipynb", "--lr=0.1", "--epochs=3"]
    assert run.record.script == "analysis.ipynb"
    assert {m.name: m.value for m in run.metrics()} == {"score": pytest.approx(0.3)}
    # And the executed notebook is an output, with the injected cell after the tagged one
    outputs = {a.path for a in run.outputs()}
    assert {"analysis.ipynb", "side.txt"} <= outputs
    executed = nbformat.read(str(run.outputs_folder / "analysis.ipynb"), as_version=4)
    assert executed.cells[1].metadata["tags"] == ["injected-parameters"]
    assert "lr = 0.1" in executed.cells[1].source
    printed = "".join(o.get("text", "") for o in executed.cells[2].outputs)
    assert "trained 0.30000000000000004 float base" in printed
    assert executed.metadata["aml_magic"]["parameters"] == {"lr": "0.1", "epochs": "3"}


def test_a_failing_cell_fails_the_run_with_its_error_as_the_hint(project: Path) -> None:
    # Given a notebook whose second cell raises
    notebook(project, "broken.ipynb", ("x = 1", []), ("1 / 0", []), ("print('never')", []))
    # When it runs
    run = Workspace(project).submit("local", "broken.ipynb")
    status = run.wait(timeout=120)
    # Then the run failed, the hint names the cell and the error, and the later cell never ran
    assert status is RunStatus.FAILED
    hint = run.record.provenance.get("hint") or ""
    assert "cell 2 (#2) failed: ZeroDivisionError: division by zero" in hint, run.record
    text, _ = run.log_text()
    assert "never" not in text and "ZeroDivisionError" in text
    # And the executed notebook is still kept, with the error in its outputs
    executed = nbformat.read(str(run.outputs_folder / "broken.ipynb"), as_version=4)
    assert executed.cells[1].outputs[0]["ename"] == "ZeroDivisionError"
    assert not executed.cells[2].get("outputs")


def test_a_bad_parameter_is_one_line_at_submit(project: Path) -> None:
    notebook(project, "analysis.ipynb", *ANALYSIS)
    with pytest.raises(AmlError, match="analysis.ipynb: notebook argument 'oops'"):
        Workspace(project).submit("local", "analysis.ipynb", ["oops"])
    with pytest.raises(AmlError, match="missing.ipynb.*not in the project"):
        Workspace(project).submit("local", "missing.ipynb")


def test_the_cli_submits_a_notebook_with_param_options(project: Path) -> None:
    # Given a notebook
    notebook(project, "analysis.ipynb", *ANALYSIS)
    # When the CLI submits it with --param, waiting for it
    done = aml("experiment", "submit", "-c", "local", "analysis.ipynb", "--param", "lr=0.5",
               "--param", "name=cli", cwd=project)
    # Then its output is streamed and history lists the parameters
    assert "trained 0.5 float cli" in done.stdout
    shown = json.loads(aml("run", "list", "-o", "json", cwd=project).stdout)
    assert shown[0]["command"] == ["analysis.ipynb", "--lr=0.5", "--name=cli"]


def test_a_run_whose_python_lacks_nbclient_says_what_to_install(project: Path,
                                                                  tmp_path: Path) -> None:
    # Given a run configuration whose interpreter is a bare venv (no nbclient)
    import subprocess
    import sys
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    compute = project / "aml_config" / "local.compute"
    compute.write_text(compute.read_text().replace(
        "# pythonLocation: python3", f"pythonLocation: {bare / 'bin' / 'python'}"))
    notebook(project, "analysis.ipynb", *ANALYSIS)
    # When the notebook is submitted
    run = Workspace(project).submit("local", "analysis.ipynb")
    # Then it fails with one line naming what to install
    assert run.wait(timeout=60) is RunStatus.FAILED
    hint = run.record.provenance.get("hint") or ""
    assert "is not installed in" in hint and "pip install nbclient nbformat ipykernel" in hint


def test_cancel_stops_the_kernel_and_keeps_the_notebook_as_far_as_it_ran(
        project: Path, tmp_path: Path) -> None:
    import os
    from tests._wait import wait_until
    # Given a notebook run whose second cell sleeps, its kernel's pid written where we can see
    pidfile = tmp_path / "kernel.pid"
    notebook(project, "slow.ipynb", ("pidfile = ''", ["parameters"]),
             ("import os, time\nopen(pidfile, 'w').write(str(os.getpid()))\nprint('started')",
              []),
             ("time.sleep(300)", []))
    run = Workspace(project).submit("local", "slow.ipynb", ["--pidfile", str(pidfile)])
    wait_until(lambda: pidfile.exists() and pidfile.read_text(), 60, "the kernel's pid")
    kernel = int(pidfile.read_text())
    # (the pid is written while its cell runs; the notebook holds the cell's output once the
    # next cell has started: the executor writes it, then logs the next cell)
    wait_until(lambda: "[notebook] cell 4/4" in run.log_text()[0], 60, "the sleeping cell")
    # When it is cancelled
    run.cancel()
    # Then it ends Canceled, its kernel is gone, and the executed notebook keeps what ran
    assert run.wait(timeout=60) is RunStatus.CANCELED
    wait_until(lambda: not os.path.exists(f"/proc/{kernel}"), 10, f"kernel {kernel} gone")
    executed = nbformat.read(str(run.outputs_folder / "slow.ipynb"), as_version=4)
    assert "started" in "".join(o.get("text", "") for o in executed.cells[2].outputs)
    text, _ = run.log_text()
    assert "eavesdropping" not in text       # the kernel is on private Unix sockets


def test_a_sweep_over_a_notebook_gives_each_child_its_parameter(project: Path) -> None:
    # Given a notebook
    notebook(project, "analysis.ipynb", *ANALYSIS)
    # When a sweep over lr submits it
    done = aml("experiment", "submit", "-c", "local", "analysis.ipynb", "--epochs", "2",
               "--sweep", "lr=0.5,2", cwd=project)
    # Then each child ran the notebook with its value, recorded as a parameter
    shown = json.loads(aml("run", "list", "-o", "json", cwd=project).stdout)
    children = sorted(r["command"] for r in shown if r.get("parent_run_id"))
    assert children == [["analysis.ipynb", "--epochs=2", "--lr=0.5"],
                        ["analysis.ipynb", "--epochs=2", "--lr=2"]], (shown, done.stderr)
    assert all(r["status"] == "Completed" for r in shown), shown
