"""An environment build triggered by a submit shows its progress in the CLI stream and in the run
widget, and its log is kept with the run (``build.log``, ``aml run logs ID --environment``)."""
from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Any

import pytest

from aml_magic import Workspace
from aml_magic.domain.runfolder.build_log import BuildLog
from aml_magic.domain.history.status import RunStatus
from aml_magic.frontends.notebook.widgets._render import summary_html, summary_text
from aml_magic.frontends.notebook.widgets._watcher import RunWatcher
from tests._project import aml, write
from tests.fixtures.dockerd import DockerEngine
from tests.targets.helpers import forget_environment

REPO = Path(__file__).resolve().parents[2]
CONDA = ("name: project_environment\ndependencies:\n  - python=3\n  - pip:\n"
         "    - tomli==1.2.3\n")


@pytest.mark.docker
def test_a_submit_that_builds_streams_the_build_and_keeps_its_log(
        project: Path, dockerd: DockerEngine) -> None:
    # Given a docker run configuration whose environment image does not exist yet
    write(project, "aml_config/conda_dependencies.yml", CONDA)
    ws = Workspace(project)
    ws.config.write_compute(dataclasses.replace(ws.config.compute("docker"),
                                                network_mode="host"))
    forget_environment(ws, dockerd, "docker")
    ws.close()
    write(project, "v.py", "import tomli; print('tomli', tomli.__version__)\n")
    env = dict(os.environ, DOCKER_HOST=dockerd.host, PYTHONPATH=str(REPO))
    # When `aml experiment submit` streams the run (its default)
    stream = aml("experiment", "submit", "-c", "docker", "v.py", cwd=project, env=env,
                 timeout=900)
    # Then the build's lines came on stderr as it ran, before the run's output on stdout
    build_lines = [line for line in stream.stderr.splitlines() if line.startswith("aml: ")]
    assert any("tomli==1.2.3" in line for line in build_lines), stream.stderr
    assert stream.stdout.strip().endswith("tomli 1.2.3"), stream.stdout
    # And the build log is kept with the run, every line the stream showed
    run_id = next(line.split()[1] for line in stream.stderr.splitlines()
                  if line.startswith("run "))
    kept = (project / ".aml" / "runs" / run_id / "build.log")
    shown = aml("run", "logs", run_id, "--environment", cwd=project, env=env).stdout
    assert shown == kept.read_text()
    assert [f"aml: {line}" for line in shown.splitlines()] == \
        [line for line in build_lines if not line.startswith("aml: warning")]
    # And `aml history info` names the file
    info = aml("history", "info", run_id, cwd=project, env=env).stdout
    assert re.search(r"^environment log:\s+" + re.escape(str(kept)) + "$", info, re.M), info


def test_logs_environment_of_a_run_without_a_build_says_so(project: Path) -> None:
    write(project, "a.py", "print(1)\n")
    ws = Workspace(project)
    run = ws.submit("local", "a.py", wait=True)
    ws.close()
    result = aml("run", "logs", run.id, "--environment", cwd=project, check=False)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert f"run {run.id} triggered no environment build" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_widget_follows_a_build_while_the_run_is_being_prepared(project: Path) -> None:
    # Given a run seen as Preparing (a real run folder and history; the handle only holds the
    # status at Preparing) whose build has printed two lines so far
    write(project, "a.py", "print(1)\n")
    ws = Workspace(project)
    run = ws.submit("local", "a.py", wait=True)
    record = ws.store.get(run.id)
    preparing = dataclasses.replace(record, status=RunStatus.PREPARING)
    handle: Any = type("PreparingRun", (), {
        "id": run.id, "folder": run.folder, "record": preparing, "last_error": None,
        "refresh": lambda self: preparing, "log_text": lambda self, offset=0: ("", offset),
        "metrics": lambda self: [], "outputs": lambda self: []})()
    watcher = RunWatcher(handle, on_update=lambda snap: None)
    with BuildLog(run.folder) as build:
        build("Step 1/3: installing python")
        build("Collecting tomli==1.2.3")
        # When the widget's watcher polls
        snap = watcher.poll_once()
        # Then the lines are shown, open, in the widget's views and its text fallback
        assert snap.build_tail == "Step 1/3: installing python\nCollecting tomli==1.2.3"
        html = summary_html(snap)
        assert "Collecting tomli==1.2.3" in html and '<details class="aml-build" open>' in html
        assert "environment build" in summary_text(snap)
        # When the build prints more, Then the next poll shows it
        build("Successfully installed tomli-1.2.3")
        assert (watcher.poll_once().build_tail or "").endswith("Successfully installed tomli-1.2.3")
    ws.close()
