"""Migration hints: a run that fails on ``import azureml.<x>`` (not ``logging``) says which
Workbench module is missing and what to use instead, in history, the CLI stream and the widget."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from aml_magic import Workspace
from aml_magic.domain.hints import hint_from_log
from aml_magic.domain.history.status import RunStatus
from aml_magic.frontends.notebook.widgets._render import summary_html, summary_text
from aml_magic.frontends.notebook.widgets._snapshot import LogTail, snapshot_of
from tests._project import aml, write

TRACEBACK = """Traceback (most recent call last):
  File "train.py", line 3, in <module>
    {statement}
ModuleNotFoundError: No module named '{module}'
"""


@pytest.mark.parametrize(("module", "expected"), [
    ("azureml.dataprep", "pandas"),
    ("azureml.dataprep.dataflow", "package.run, Package.open_package"),
    ("azureml.datacollector", "get_azureml_logger"),
    ("azureml.api.schema.dataTypes", "serve it with your own code"),
    ("azureml.core", "azureml-core"),
    ("azureml.studio", "not provided by aml_magic; only azureml.logging (get_azureml_logger) "
                       "and azureml.dataprep are"),
])
def test_each_workbench_module_gets_its_hint(module: str, expected: str) -> None:
    hint = hint_from_log(TRACEBACK.format(statement=f"import {module}", module=module))
    assert hint is not None and expected in hint
    assert module.split(".")[1] in hint and "\n" not in hint


def test_no_hint_for_azureml_logging_or_other_modules() -> None:
    assert hint_from_log(TRACEBACK.format(statement="x", module="azureml.logging")) is None
    assert hint_from_log(TRACEBACK.format(statement="x", module="sklearn")) is None
    assert hint_from_log(TRACEBACK.format(statement="x", module="azureml_tools")) is None
    assert hint_from_log("exit code 1") is None
    # Python 2's wording names the module without quotes
    assert "pandas" in (hint_from_log("ImportError: No module named azureml.dataprep\n") or "")


def test_a_failed_run_shows_the_hint_in_history_the_stream_and_the_widget(project: Path) -> None:
    # Given a Workbench script that uses azureml.logging and azureml.dataprep.package (provided)
    # and a part of azureml.dataprep the stand-in lacks
    write(project, "train.py", """
        from azureml.logging import get_azureml_logger
        get_azureml_logger().log("started", 1)
        import azureml.dataprep.package
        import azureml.dataprep.dataflow
    """)
    # When submitted and streamed by the CLI
    stream = aml("experiment", "submit", "-c", "local", "train.py", cwd=project, check=False)
    # Then the stream's final line names the module and what to use instead
    assert stream.returncode == 1, stream.stderr
    last = stream.stderr.strip().splitlines()[-1]
    assert ": Failed" in last and "hint: azureml.dataprep.dataflow" in last and "pandas" in last
    # And the hint is stored with the run: history info shows it, as text and as JSON
    run_id = last.split()[1].rstrip(":")
    info = aml("history", "info", run_id, cwd=project).stdout
    assert any(line.startswith("hint") and "azureml.dataprep" in line
               for line in info.splitlines()), info
    detail = json.loads(aml("history", "info", run_id, "-o", "json", cwd=project).stdout)
    assert "pandas" in detail["hint"] and detail["provenance"]["hint"] == detail["hint"]
    # And the run widget's fallbacks show it
    ws = Workspace(project)
    run = ws.run(run_id)
    snap = snapshot_of(run, run.refresh(), LogTail())
    assert "hint: azureml.dataprep" in summary_text(snap)
    assert "aml-hint" in summary_html(snap) and "pandas" in summary_html(snap)
    ws.close()


def test_a_run_failing_otherwise_has_no_hint(project: Path) -> None:
    write(project, "fail.py", "from azureml.logging import get_azureml_logger\nraise SystemExit(2)\n")
    ws = Workspace(project)
    run = ws.submit("local", "fail.py", wait=True)
    assert run.status is RunStatus.FAILED
    assert "hint" not in run.record.provenance
    ws.close()


@pytest.mark.parametrize(("module", "expected"), [
    ("dataprep.dataflow", "dataprep.dataflow (the pre-release name of azureml.dataprep.dataflow)"),
    ("dataprep.Package.sub", "use azureml.dataprep"),
])
def test_old_dataprep_names_get_a_hint_naming_the_replacement(module: str, expected: str) -> None:
    hint = hint_from_log(TRACEBACK.format(statement=f"import {module}", module=module))
    assert hint is not None and expected in hint and "package.run" in hint and "\n" not in hint
    assert hint_from_log(TRACEBACK.format(statement="x", module="dataprep_tools")) is None


def test_the_dataprep_refusal_is_the_hint_as_it_is() -> None:
    line = ("azureml.dataprep: DeriveColumnByExample (block 7) in iris-1.dprep, dataflow 0 "
            "('iris'): is not supported: a learned 'by example' program")
    log = ("Traceback (most recent call last):\n  ...\n"
           f"azureml.dataprep._errors.UnsupportedBlockError: {line}\n")
    assert hint_from_log(log) == line
