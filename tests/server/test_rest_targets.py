"""The REST API over real targets, against a real Jupyter server: the environment endpoint of
every target type with its real component (the sidebar's "Prepared" column: it answered 500 for
every type that builds environments), and one reconciled state for the runs list and the run
detail."""
from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aml_magic.domain.history.status import RunStatus
from aml_magic.service.workspace import Workspace
from tests._contract import assert_shape
from tests._project import write
from tests._wait import wait_until
from tests.fixtures.dockerd import DockerEngine
from tests.fixtures.sshd import SshServer
from tests.server.jupyter import JupyterServer, free_port, start_server, stop_server
from tests.targets.test_remotedocker_target import engine_access as engine_access  # fixture

P = {"project": "proj"}
LIFECYCLE = [s.value for s in RunStatus]


@pytest.fixture
def lab_project(tmp_path: Path) -> Path:
    from aml_magic.domain.config import init_project
    project = init_project(tmp_path / "root" / "proj")
    write(project, "t.py", "print('hello')\n")
    return project


def serve(project: Path, tmp_path: Path, **env: str) -> JupyterServer:
    """A server over the project's parent folder; the test process's secret store (where
    in-process attaches put their passwords) is the server's too."""
    return start_server(project.parent, tmp_path / "state", extra_env=env)


def environment(server: JupyterServer, name: str) -> dict[str, Any]:
    reply = server.api("GET", f"targets/{name}/environment", params=P)
    assert reply.status == 200, reply.body
    assert_shape("EnvironmentJson", reply.json)
    return reply.json


@pytest.fixture
def remote_base(sshd: SshServer) -> Iterator[str]:
    """A base folder of its own on the SSH user's side, removed afterwards."""
    name = f".aml-envtest-{os.urandom(4).hex()}"
    yield f"~/{name}"
    subprocess.run(["rm", "-rf", str(Path(sshd.home) / name)], check=False)


def test_environment_of_a_remote_target_that_builds_its_own(lab_project: Path, tmp_path: Path,
                                                            sshd: SshServer,
                                                            remote_base: str) -> None:
    # Given remote and cluster targets on the real sshd that build their environment there
    # (the cluster's Spark master is not needed to tell whether its environment exists)
    ws = Workspace(lab_project)
    login = {"address": f"{sshd.host}:{sshd.port}", "username": sshd.username,
             "password": sshd.password, "trust_new_host_key": True}
    ws.attach("remote", "vm", remote_base_dir=remote_base, **login)
    compute = ws.config.compute("vm")
    compute.user_managed_environment = False
    ws.config.write_compute(compute)
    ws.attach("cluster", "spk", remote_base_dir=remote_base,
              spark_master=f"spark://127.0.0.1:{free_port()}", **login)
    ws.close()
    server = serve(lab_project, tmp_path)
    try:
        # When the sidebar asks whether their environments exist
        shown = {name: environment(server, name) for name in ("vm", "spk")}
    finally:
        stop_server(server)
    # Then each answers (not built yet), naming its run configuration
    for name, env in shown.items():
        assert env["prepared"] is False and env["run_configuration"] == name, env
        assert env["message"]


def test_environment_of_docker_before_and_after_a_prepare(lab_project: Path, tmp_path: Path,
                                                          dockerd: DockerEngine) -> None:
    # Given the project's docker target on the suite's engine, its environment not built
    from tests.targets.helpers import forget_environment
    ws = Workspace(lab_project)
    forget_environment(ws, dockerd, "docker")
    ws.close()
    server = serve(lab_project, tmp_path, DOCKER_HOST=dockerd.host)
    try:
        # When the environment is asked for, prepared, and asked for again
        before = environment(server, "docker")
        job = server.api("POST", "prepare", params=P, body={"target": "docker"}).json
        done = wait_until(lambda: (lambda j: j if j["state"] != "running" else None)(
            server.api("GET", f"prepare/{job['job_id']}").json), 900, "the prepare job ends")
        after = environment(server, "docker")
    finally:
        stop_server(server)
    # Then it was not there, the job built it, and now it is
    assert before["prepared"] is False and before["run_configuration"] == "docker"
    assert done["state"] == "succeeded", done
    assert after["prepared"] is True and after["message"]


def test_environment_of_remotedocker(lab_project: Path, tmp_path: Path, sshd: SshServer,
                                     engine_access: str, remote_base: str) -> None:
    # Given a remotedocker target over the real sshd to the suite's engine
    ws = Workspace(lab_project)
    ws.attach("remotedocker", "rd", address=f"{sshd.host}:{sshd.port}", username=sshd.username,
              password=sshd.password, trust_new_host_key=True, network_mode="host",
              docker_host=engine_access, remote_base_dir=remote_base)
    ws.close()
    server = serve(lab_project, tmp_path)
    try:
        # When the sidebar asks whether its environment exists
        shown = environment(server, "rd")
    finally:
        stop_server(server)
    # Then it answers, with a yes or a no and why
    assert shown["run_configuration"] == "rd" and isinstance(shown["prepared"], bool)
    assert shown["message"]


def test_the_list_shows_the_state_the_detail_shows(lab_project: Path, tmp_path: Path) -> None:
    # Given a server without its background reconciler: only requests reconcile runs
    write(lab_project, "short.py", "import time\nprint('start', flush=True)\ntime.sleep(1)\n")
    server = start_server(lab_project.parent, tmp_path / "state", reconcile_seconds=0)
    try:
        watched = server.api("POST", "runs", params=P,
                             body={"run_configuration": "local", "script": "proj/short.py"})
        run_id = watched.json["run_id"]

        # When its detail and then the list are asked for, again and again, until it ends
        def one_look() -> str | None:
            detail = server.api("GET", f"runs/{run_id}", params=P).json["status"]
            listed = {r["run_id"]: r["status"] for r in
                      server.api("GET", "runs", params=P).json["runs"]}[run_id]
            # Then the list never shows an older state than the detail just showed
            assert LIFECYCLE.index(listed) >= LIFECYCLE.index(detail), (listed, detail)
            return detail if RunStatus(detail).is_terminal() else None
        assert wait_until(one_look, 60, "the run ends", interval=0.05) == "Completed"
        # And a run nobody opens ends in the list too: listing reconciles it
        alone = server.api("POST", "runs", params=P,
                           body={"run_configuration": "local", "script": "proj/short.py"})
        wait_until(lambda: {r["run_id"]: r["status"] for r in server.api(
            "GET", "runs", params=P).json["runs"]}[alone.json["run_id"]] == "Completed", 60,
            "the list showing the unopened run Completed", interval=0.1)
    finally:
        stop_server(server)
