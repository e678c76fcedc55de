"""What the Lab's targets and status bar need from a real Jupyter server: an unknown host key
is a 409 that says it in words and carries the key (and pinning exactly that fingerprint
attaches); a generated key comes back as its authorized_keys line; ``GET active-runs`` counts
the active runs of every project under the root, whichever folder is asked about."""
from __future__ import annotations

from pathlib import Path

import pytest

from aml_magic.service.workspace import Workspace
from tests._contract import assert_shape
from tests._project import write
from tests._wait import wait_until
from tests.fixtures.sshd import SshServer
from tests.server.jupyter import start_server, stop_server

WAITS = """
import os, sys, time
print("waiting", flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.05)
"""


def test_unknown_host_key_is_asked_in_words_then_pinned(tmp_path: Path, sshd: SshServer) -> None:
    from aml_magic.domain.config import init_project
    project = init_project(tmp_path / "root" / "proj")
    server = start_server(project.parent, tmp_path / "state")
    try:
        body = {"type": "remote", "name": "vm", "address": f"{sshd.host}:{sshd.port}",
                "username": sshd.username, "password": sshd.password}
        # When a remote target is attached without a host key
        reply = server.api("POST", "targets", params={"project": "proj"}, body=body)
        # Then the answer is a 409 naming the key in words, with the key itself
        assert reply.status == 409, reply.body
        assert_shape("ErrorJson", reply.json)
        key = reply.json["host_key"]
        assert (key["host"], key["port"], key["fingerprint"]) == \
            (sshd.host, sshd.port, sshd.host_key_fingerprint)
        assert key["key_type"].startswith(("ssh-", "ecdsa"))
        message = reply.json["message"]
        assert sshd.host_key_fingerprint in message and "fingerprint" in message
        assert "--" not in message                    # words, not command-line flags
        assert not (project / "aml_config" / "vm.compute").exists()
        # When it is attached again pinning that fingerprint, then it is attached and pinned
        reply = server.api("POST", "targets", params={"project": "proj"},
                           body={**body, "host_key_fingerprint": key["fingerprint"]})
        assert reply.status == 201, reply.body
        assert_shape("AttachedTargetJson", reply.json)
        assert reply.json["settings"]["hostKeyFingerprint"] == sshd.host_key_fingerprint
        assert sshd.password not in reply.body.decode()
        # And a generated key comes back as the line to authorize on the machine
        reply = server.api("POST", "targets", params={"project": "proj"}, body={
            "type": "remote", "name": "vmkey", "address": f"{sshd.host}:{sshd.port}",
            "username": sshd.username, "use_key": True,
            "host_key_fingerprint": sshd.host_key_fingerprint})
        assert reply.status == 201, reply.body
        assert reply.json["public_key"].startswith("ssh-ed25519 ")
        assert reply.json["public_key"].endswith(" aml_magic-vmkey")
        assert any("authorized_keys" in m for m in reply.json["messages"])
    finally:
        stop_server(server)


def test_active_runs_count_every_project_under_the_root(tmp_path: Path) -> None:
    from aml_magic.domain.config import init_project
    root = tmp_path / "root"
    go = tmp_path / "go"
    # Given runs waiting in two projects (one nested deeper) and a third project with none
    runs = {"alpha": 2, "group/beta": 1}
    for path, count in runs.items():
        project = init_project(root / path)
        write(project, "w.py", WAITS)
        ws = Workspace(project)
        try:
            for _ in range(count):
                ws.submit("local", "w.py", [str(go)])
        finally:
            ws.close()
    init_project(root / "gamma")
    server = start_server(root, tmp_path / "state")
    try:
        # When the count is asked about the third project, which no request opened before
        def active() -> dict:
            reply = server.api("GET", "active-runs", params={"project": "gamma"})
            assert reply.status == 200, reply.body
            assert_shape("ActiveRunsJson", reply.json)
            return dict(reply.json)
        # Then it is every project's active runs, by project, most first
        answer = active()
        assert answer["active"] == 3
        assert [(p["path"], p["active"]) for p in answer["projects"]] == \
            [("alpha", 2), ("group/beta", 1)]
        # And when the runs end, the count follows (the reconciler now keeps them current)
        go.write_text("go")
        wait_until(lambda: active()["active"] == 0, 60, "no active run left")
    finally:
        go.write_text("go")
        stop_server(server)


pytestmark = pytest.mark.timeout(240)
