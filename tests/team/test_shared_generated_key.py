"""``-k`` for a shared target, against a real ``aml server`` on a real PostgreSQL and the
suite's sshd: the admin attaches from a linked project with ``-k``; the server generates the
key pair, keeps the private key in its key store (encrypted, nowhere in clear) and answers the
public key's authorized_keys line; once it is authorized on the machine, a contributor's run
logs in with the key and completes."""
from __future__ import annotations

from pathlib import Path

import pytest

from aml_magic.domain.config import init_project
from aml_magic.domain.teamdb import connect
from tests._wait import wait_until
from tests.fixtures.sshd import SshServer
from tests.team.conftest import TeamServer, aml
from tests.team.test_server import files_holding, http, members, one_error_line
from tests.team.test_shared_targets import database_text, linked_project, remote_base

pytestmark = [pytest.mark.postgres, pytest.mark.sshd]
__all__ = ["members", "remote_base"]      # the fixtures, shared with the other modules

TARGET = "shared-gen"
PRIVATE = "PRIVATE KEY"


def test_k_generates_the_key_on_the_server(team_server: TeamServer, members: dict[str, str],
                                           sshd: SshServer, remote_base: str) -> None:
    homes = team_server.homes
    ada, bob = linked_project(team_server, "ada"), linked_project(team_server, "bob")
    args = ["computetarget", "attach", "remote", "-n", TARGET, "-a",
            f"{sshd.host}:{sshd.port}", "-u", sshd.username, "-k", "--trust-new-host-key",
            "--remote-base-dir", remote_base]
    # A contributor may not attach a shared target, -k or not (one line)
    line = one_error_line(aml(homes["bob"], *args, "--project", str(bob)))
    assert "not allowed (403)" in line and "admin" in line
    # When ada attaches it with -k in her linked project
    attached = aml(homes["ada"], *args, "--project", str(ada))
    assert attached.returncode == 0, attached.stderr
    # Then the answer is the public key's authorized_keys line, generated on the server
    public = next(row for row in attached.stdout.splitlines()
                  if row.startswith("ssh-ed25519 "))
    assert public.endswith(f" aml_magic-{TARGET}")
    assert f"echo '{public}' >> ~/.ssh/authorized_keys" in attached.stdout
    # And the private key is in the key store only: encrypted in PostgreSQL, in no file of a
    # member, of the server's artifacts, nor in its log
    with connect(team_server.database) as conn:
        kinds = [r[0] for r in conn.execute("SELECT kind FROM key_store").fetchall()]
    assert len(kinds) == 1, kinds
    assert PRIVATE not in database_text(team_server.database)
    for home in ("ada", "bob", "rex", "server"):
        assert files_holding(homes[home], PRIVATE) == [], home
    assert files_holding(team_server.artifacts, PRIVATE) == []
    assert PRIVATE not in team_server.output.read_text(errors="replace")
    # And no API answer carries it; readers see the target by reference
    status, listed = http(team_server, "/aml/api/workspace/targets", members["rex"])
    assert status == 200 and TARGET in {t["name"] for t in listed["targets"]}
    assert PRIVATE not in str(listed)
    keys = Path(sshd.home) / ".ssh" / "authorized_keys"
    try:
        # When the machine's owner authorizes it (the test does it as root)
        with open(keys, "a") as fh:
            fh.write("\n" + public + "\n")
        # Then bob's run on the shared target logs in with the generated key and completes
        server_project = init_project(team_server.artifacts / "projects" / "gen")
        (server_project / "hello.py").write_text("print('by the generated key')\n")
        status, run = http(team_server, "/aml/api/runs?project=gen", members["bob"], "POST",
                           {"run_configuration": TARGET, "script": "gen/hello.py"})
        assert status == 201, run
        done = wait_until(lambda: (lambda r: r if r["status"] in ("Completed", "Failed")
                                   else None)(http(team_server,
                                                   f"/aml/api/runs/{run['run_id']}?project=gen",
                                                   members["bob"])[1]),
                          180, "the run ends", interval=0.5)
        assert done["status"] == "Completed", done
        log = http(team_server, f"/aml/api/runs/{run['run_id']}/log?project=gen",
                   members["bob"])[1]
        assert "by the generated key" in log["text"]
    finally:                                       # later tests of this session use the user
        keys.write_text("".join(row for row in keys.read_text().splitlines(keepends=True)
                                if row.strip() != public))
    # And detaching it deletes the key from the key store
    detached = aml(homes["ada"], "computetarget", "detach", "-n", TARGET, "--project", str(ada))
    assert detached.returncode == 0, detached.stderr
    with connect(team_server.database) as conn:
        assert conn.execute("SELECT count(*) FROM key_store").fetchone() == (0,)


def test_k_with_a_password_too_is_one_line(team_server: TeamServer, members: dict[str, str],
                                          sshd: SshServer) -> None:
    base = {"type": "remote", "name": "both", "address": sshd.host, "username": sshd.username,
            "use_key": True, "trust_new_host_key": True}
    for other in ({"password": "x"}, {"private_key": sshd.client_key_path.read_text()}):
        status, answer = http(team_server, "/aml/api/workspace/targets", members["ada"],
                              "POST", {**base, **other})
        assert status == 400 and "one of" in answer["message"], answer
        assert "\n" not in answer["message"] and PRIVATE not in answer["message"]
    listed = http(team_server, "/aml/api/workspace/targets", members["rex"])[1]
    assert "both" not in {t["name"] for t in listed["targets"]}
