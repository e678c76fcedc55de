"""A run forges its ``record.json``; ``aml history repair`` reads it back (issue 23, finding 2).

The run folder is the run's to write (read-write in a container), so the record it holds is
evidence, never configuration. Each test submits a real run that waits for the host's own
record (status Running), rewrites it, and waits; the test then repairs the history and shows
the run:

- ``ghost target``: the record names a target missing from ``aml_config/`` whose recorded
  compute is a remote target at an address the test listens on, with the victim's stored
  password reference (read from the run's own copy of ``aml_config/``). Before the fix the
  recorded compute was used and ``aml run show`` connected there; now the run is orphaned and
  nothing connects.
- ``foreign folders``: the record keeps the real target but points ``outputs_dir`` at a folder
  outside the run holding a secret; the run then ends normally. Before the fix its outputs were
  collected from there; now the run fails with the reason and nothing is copied.
"""
from __future__ import annotations

import json
import select
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from aml_magic.domain.history.status import RunStatus
from aml_magic.frontends.notebook.widgets._render import summary_html
from aml_magic.frontends.notebook.widgets._watcher import RunWatcher
from aml_magic.service.api import AmlService
from aml_magic.service.workspace import Workspace
from tests._project import aml, write
from tests._wait import wait_until

FORGER = r'''
import json, os, sys, time
patch = json.loads(sys.argv[1])
run = os.path.dirname(os.getcwd())               # /aml/run in a container
flag = os.path.join(run, "release")
record = os.path.join(run, "record.json")
with open("aml_config/victim.compute") as fh:        # the run's copy of the project
    ref = [l.split(":", 1)[1].strip() for l in fh if l.startswith("password:")][0]
deadline = time.time() + 60
while time.time() < deadline:                        # the host records Running after launch
    with open(record) as fh:
        data = json.load(fh)
    if data["status"] == "Running":
        break
    time.sleep(0.02)
state = dict(data["target_state"], **patch.pop("target_state", {}))
data.update(json.loads(json.dumps(patch).replace("@REF@", ref)))
state = json.loads(json.dumps(state).replace("@RUNID@", os.environ["AML_MAGIC_RUN_ID"]))
data["target_state"] = state
with open(record + ".x", "w") as fh:
    json.dump(data, fh)
os.replace(record + ".x", record)
print("forged", flush=True)
while not os.path.exists(flag) and time.time() < deadline + 60:
    time.sleep(0.05)
'''

FINGERPRINT = "SHA256:" + "A" * 43


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A socket on this machine that counts as the attacker's address."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield sock
    finally:
        sock.close()


def connection_arrived(sock: socket.socket) -> bool:
    """Whether anything connected (a connection waits in the backlog until accepted)."""
    return bool(select.select([sock], [], [], 0.2)[0])


def _victim_project(project: Path) -> None:
    """The victim's remote target with a stored password (its reference in the .compute)."""
    ref = Workspace(project).store_secret("password", "victim", "victim-password-123")
    write(project, "aml_config/victim.compute", f"""\
        type: remote
        address: 10.255.255.1
        username: victim
        password: {ref}
        hostKeyFingerprint: {FINGERPRINT}
        """)
    write(project, "forge.py", FORGER)


def _submit_forger(project: Path, patch: dict[str, object], target: str = "local") -> str:
    out = aml("experiment", "submit", "-c", target, "-a", "forge.py", json.dumps(patch),
              cwd=project)
    run_id = out.stdout.strip()
    log = project / ".aml" / "runs" / run_id / "log.txt"
    wait_until(lambda: log.is_file() and "forged" in log.read_text(), 120,
               f"the run {run_id} forging its record.json")
    return run_id


def _release(project: Path, run_id: str | None) -> None:
    """Let the forging run end (it waits for this file in its run folder)."""
    if run_id is not None:
        (project / ".aml" / "runs" / run_id / "release").write_text("go")


@pytest.fixture(params=["local", "docker"])
def target(request: pytest.FixtureRequest, project: Path,
           monkeypatch: pytest.MonkeyPatch) -> str:
    """The target the forging run runs on: this machine, or a container of the suite's
    engine (its run folder mounted read-write)."""
    if request.param == "docker":
        from tests.targets.test_docker_target import CONDA, set_compute
        dockerd = request.getfixturevalue("dockerd")
        monkeypatch.setenv("DOCKER_HOST", dockerd.host)
        write(project, "aml_config/conda_dependencies.yml", CONDA)
        set_compute(Workspace(project), network_mode="host")   # the engine has no bridge
    return str(request.param)


def test_a_forged_record_naming_a_gone_target_connects_nowhere(
        project: Path, listener: socket.socket, target: str) -> None:
    # Given a run that rewrote its record.json: its target is one not in aml_config/, recorded
    # as a remote target at the attacker's address with the victim's password reference
    _victim_project(project)
    run_id = None
    port = listener.getsockname()[1]
    patch = {"target": "ghost", "target_type": "remote",
             "config_snapshot": {"compute": {"type": "remote", "address": "127.0.0.1",
                                             "port": port, "username": "victim",
                                             "password": "@REF@", "sshTimeout": 3,
                                             "hostKeyFingerprint": FINGERPRINT}},
             "target_state": {"run_dir": "/home/victim/.aml_magic/runs/@RUNID@"}}
    try:
        run_id = _submit_forger(project, patch, target)
        # When the history is rebuilt from the run folders and the run is shown
        aml("history", "repair", "--force", cwd=project)
        shown = aml("run", "show", run_id, cwd=project, check=False)
        detail = aml("run", "show", run_id, "-o", "json", cwd=project, check=False)
        # Then nothing connected to the recorded address
        assert not connection_arrived(listener), (
            f"`aml run show` connected to the address the run wrote\n{shown.stdout}"
            f"{shown.stderr}")
        # And the run shows as orphaned, naming its target, in text and JSON
        assert shown.returncode == 0, shown.stderr
        assert "orphaned" in shown.stdout and "'ghost'" in shown.stdout, shown.stdout
        assert "orphaned" in json.loads(detail.stdout)["orphaned"]
        assert "victim-password-123" not in shown.stdout + detail.stdout
        # And so do the REST detail and the notebook widget, still connecting nowhere
        service = AmlService(project)
        try:
            rest = service.run("", run_id)
        finally:
            service.close()
        assert "orphaned" in rest.get("orphaned", "") and "unreachable" not in rest
        html = summary_html(RunWatcher(Workspace(project).run(run_id),
                                       on_update=lambda _snap: None).poll_once())
        assert "orphaned" in html and "&#x27;ghost&#x27;" in html
        assert not connection_arrived(listener)
    finally:
        _release(project, run_id)


def test_a_forged_record_cannot_point_outputs_outside_its_run(project: Path,
                                                              tmp_path: Path) -> None:
    # Given a folder outside the run holding a secret, and a run on the real local target
    # that rewrote its record.json to collect its outputs from there
    _victim_project(project)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "id_rsa").write_text("PRIVATE KEY")
    run_id = None
    try:
        run_id = _submit_forger(project, {"target_state": {"outputs_dir": str(outside),
                                                           "logs_dir": str(outside)}})
        # When the history is rebuilt from the run folders, the run ends, and it is shown
        aml("history", "repair", "--force", cwd=project)
    finally:
        _release(project, run_id)
    ws = Workspace(project)
    run = ws.run(run_id)
    wait_until(lambda: run.refresh().status.is_terminal(), 30, f"{run_id} ending")
    aml("run", "show", run_id, cwd=project)
    # Then nothing outside the run was copied into its history
    copied = [p.name for p in (project / ".aml" / "runs" / run_id).rglob("*")]
    assert "id_rsa" not in copied
    assert run.outputs() == []
    # And the run failed saying why
    assert run.record.status is RunStatus.FAILED
    assert "outputs_dir" in (run.record.reason or "") and "outside" in (run.record.reason or "")
