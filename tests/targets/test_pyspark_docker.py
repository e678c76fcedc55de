"""``Framework: PySpark`` on the ``docker`` and ``remotedocker`` targets against the suite's real engine
(tests/fixtures/dockerd): the environment image gets a JRE (apt-get) and pyspark (PyPI), and the
run is ``spark-submit`` inside the container (local mode)."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Iterator

import pytest

from aml_magic import Workspace
from aml_magic.domain.history.status import RunStatus
from tests.fixtures.dockerd import DockerEngine
from tests.fixtures.sshd import SshServer
from tests.targets.test_remotedocker_target import attach as attach_remotedocker
from tests.targets.test_remotedocker_target import engine_access, remote_base  # noqa: F401
from tests.targets.test_pyspark_targets import check_log, use_pyspark


@pytest.fixture
def ws(project: Path, dockerd: DockerEngine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("DOCKER_HOST", dockerd.host)
    (project / "aml_config" / "conda_dependencies.yml").write_text(
        "name: e\ndependencies:\n  - python=3\n")
    workspace = Workspace(project)
    workspace.config.write_compute(dataclasses.replace(workspace.config.compute("docker"),
                                                       network_mode="host"))
    yield workspace
    workspace.close()


@pytest.mark.timeout(1800)          # a hang guard: the first build downloads a JRE and pyspark
def test_pyspark_runs_with_spark_submit_in_the_environment_image(ws: Any,
                                                                 project: Path) -> None:
    use_pyspark(project, "docker")
    progress: list[str] = []
    prepared = ws.prepare("docker", on_progress=progress.append)
    assert prepared.environment_hash, prepared.message
    run = ws.submit("docker", "job.py")
    assert run.wait(600) == RunStatus.COMPLETED, (run.record.reason, run.log_text()[0][-3000:])
    log = run.log_text()[0]
    check_log(log)
    assert "python /opt/aml-env/bin/python" in log
    assert [(m.name, m.value) for m in run.metrics()] == [("total", 9900)]


@pytest.mark.timeout(1800)
def test_pyspark_runs_in_the_remote_engines_environment_image(
        project: Path, sshd: SshServer, engine_access: str,  # noqa: F811 (fixtures)
        remote_base: Path) -> None:  # noqa: F811
    (project / "aml_config" / "conda_dependencies.yml").write_text(
        "name: e\ndependencies:\n  - python=3\n")
    ws = Workspace(project)
    try:
        attach_remotedocker(ws, sshd, engine_access, remote_base)
        use_pyspark(project, "remotevm")
        run = ws.submit("remotevm", "job.py")
        assert run.wait(900) == RunStatus.COMPLETED, (run.record.reason,
                                                      run.log_text()[0][-3000:])
        log = run.log_text()[0]
        check_log(log)
        assert "python /opt/aml-env/bin/python" in log
    finally:
        ws.close()
