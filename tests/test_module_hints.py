"""A user-managed run that fails with ``ModuleNotFoundError`` on a package gets one line naming
the package, ``conda_dependencies.yml`` and prepare: in the CLI's final status line, history and
the run widget. Real local runs."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from aml_magic import Workspace
from aml_magic.domain.module_hints import missing_module, module_hint
from aml_magic.frontends.notebook.widgets._render import summary_html, summary_text
from aml_magic.frontends.notebook.widgets._snapshot import LogTail, snapshot_of
from tests._project import aml, write

TRACEBACK = """Traceback (most recent call last):
  File "train.py", line 3, in <module>
    import {module}
ModuleNotFoundError: No module named '{module}'
"""
LOCAL = {"runconfig": {"name": "local", "CondaDependenciesFile": "aml_config/conda_dependencies.yml"},
         "compute": {"name": "local", "type": "local"}}


@pytest.mark.parametrize(("module", "package"), [
    ("sklearn.ensemble", "scikit-learn"), ("cv2", "opencv-python"), ("PIL", "pillow"),
    ("yaml", "pyyaml"), ("pandas", "pandas")])
def test_the_hint_names_the_package_the_conda_file_and_prepare(module: str, package: str) -> None:
    hint = module_hint(TRACEBACK.format(module=module), LOCAL)
    assert hint is not None and "\n" not in hint
    assert f"add {package} to aml_config/conda_dependencies.yml" in hint
    assert "aml experiment prepare -c local --managed" in hint
    assert f"no module '{module.split('.')[0]}'" in hint


def test_workbench_modules_and_other_failures_are_left_alone() -> None:
    assert missing_module(TRACEBACK.format(module="azureml.dataprep")) is None
    assert missing_module(TRACEBACK.format(module="dataprep.package")) is None
    assert missing_module("ValueError: no\nexit code 1") is None


def test_a_managed_environment_gets_the_rebuild_wording() -> None:
    docker = {"runconfig": {"name": "docker"}, "compute": {"type": "docker"}}
    hint = module_hint(TRACEBACK.format(module="sklearn"), docker) or ""
    assert "add scikit-learn to aml_config/conda_dependencies.yml" in hint
    assert "aml experiment prepare -c docker" in hint and "--managed" not in hint


def test_a_user_managed_run_missing_a_package_shows_the_hint_everywhere(project: Path) -> None:
    # Given a script importing a package the project's Python lacks
    write(project, "train.py", "print('start')\nimport sklearn_not_installed_here.svm\n")
    # When submitted and streamed by the CLI
    stream = aml("experiment", "submit", "-c", "local", "train.py", cwd=project, check=False)
    # Then the final status line names the module, conda_dependencies.yml and prepare
    assert stream.returncode == 1, stream.stderr
    last = stream.stderr.strip().splitlines()[-1]
    assert ": Failed" in last and "no module 'sklearn_not_installed_here'" in last, last
    assert "conda_dependencies.yml" in last and "prepare -c local --managed" in last
    # And history keeps it, as text and JSON
    run_id = last.split()[1].rstrip(":")
    info = aml("history", "info", run_id, cwd=project).stdout
    assert any(line.startswith("hint") and "conda_dependencies.yml" in line
               for line in info.splitlines()), info
    detail = json.loads(aml("history", "info", run_id, "-o", "json", cwd=project).stdout)
    assert "sklearn_not_installed_here" in detail["hint"]
    # And the run widget shows it
    ws = Workspace(project)
    run = ws.run(run_id)
    snap = snapshot_of(run, run.refresh(), LogTail())
    assert "hint: the run's Python has no module" in summary_text(snap)
    assert "aml-hint" in summary_html(snap) and "conda_dependencies.yml" in summary_html(snap)
    ws.close()
