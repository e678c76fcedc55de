"""Each run records the interpreter it ran under, as found on the target (``pythonLocation`` a
full path or a name on the target's PATH), checked against what the run's script itself saw:
``local`` on this machine, ``docker`` in a container of the suite's engine."""
from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from aml_magic import Workspace
from aml_magic.errors import AmlError
from aml_magic.domain.history.status import RunStatus
from tests._project import aml, write
from tests.fixtures.dockerd import DockerEngine
from tests.targets.provenance_probe import PROBE, assert_recorded, probed


def set_python_location(ws: Workspace, target: str, location: str | None) -> None:
    ws.config.write_compute(dataclasses.replace(ws.config.compute(target),
                                                python_location=location))


def test_a_local_run_records_the_interpreter_it_ran_under(project: Path) -> None:
    write(project, "probe.py", PROBE)
    ws = Workspace(project)
    run = ws.submit("local", "probe.py", wait=True)
    assert run.status is RunStatus.COMPLETED, run.record.reason
    seen = probed(run.log_text()[0])
    assert_recorded(run.record.provenance, seen, None)
    assert seen["executable"] == sys.executable      # no pythonLocation: this interpreter
    # And the record survives a new process: `aml run show -o json` and the text of
    # `aml history info` show it
    detail = json.loads(aml("run", "show", run.id, "-o", "json", cwd=project).stdout)
    assert detail["provenance"] == run.record.provenance
    info = aml("history", "info", run.id, cwd=project).stdout
    assert seen["resolved"] in info and f"Python {seen['version']}" in info
    ws.close()


def test_a_bare_python_location_is_looked_up_on_path(project: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # Given pythonLocation 'amlpy', a name found only in a folder on PATH
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "amlpy").symlink_to(os.path.realpath(sys.executable))
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    ws = Workspace(project)
    set_python_location(ws, "local", "amlpy")
    write(project, "probe.py", PROBE)
    # When a run prints its interpreter
    run = ws.submit("local", "probe.py", wait=True)
    assert run.status is RunStatus.COMPLETED, run.record.reason
    seen = probed(run.log_text()[0])
    # Then it ran under that name's file, recorded with the name as configured
    assert seen["executable"] == str(folder / "amlpy")
    assert_recorded(run.record.provenance, seen, "amlpy")
    text = aml("run", "show", run.id, cwd=project, env=dict(os.environ)).stdout
    assert "pythonLocation" in text and "amlpy" in text
    ws.close()


def test_a_missing_python_location_fails_in_one_line_naming_it_and_the_target(
        project: Path) -> None:
    ws = Workspace(project)
    set_python_location(ws, "local", "no-such-python-here")
    write(project, "a.py", "print(1)\n")
    with pytest.raises(AmlError) as err:
        ws.submit("local", "a.py")
    message = str(err.value)
    assert "\n" not in message
    assert "pythonLocation 'no-such-python-here'" in message and "local" in message
    ws.close()


@pytest.fixture
def docker_ws(project: Path, dockerd: DockerEngine, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("DOCKER_HOST", dockerd.host)
    write(project, "aml_config/conda_dependencies.yml",
          "name: project_environment\ndependencies:\n  - python=3\n")
    ws = Workspace(project)
    ws.config.write_compute(dataclasses.replace(ws.config.compute("docker"),
                                                network_mode="host"))
    yield ws
    ws.close()


@pytest.mark.docker
def test_a_docker_run_records_the_containers_interpreter(docker_ws: Workspace,
                                                         project: Path) -> None:
    write(project, "probe.py", PROBE)
    run = docker_ws.submit("docker", "probe.py", wait=True)
    assert run.status is RunStatus.COMPLETED, run.record.reason
    seen = probed(run.log_text()[0])
    # Then the interpreter is the environment's, inside the container (not this machine's)
    assert seen["prefix"] == "/opt/aml-env"
    assert_recorded(run.record.provenance, seen, docker_ws.config.compute("docker").python_location)
