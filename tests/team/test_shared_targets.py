"""Shared targets and the key store, against a real ``aml server`` on a real PostgreSQL and the
suite's sshd, with three members on three HOMEs: the admin attaches the sshd target once by
password from a linked project; a contributor submits to it by name and the run completes,
without ever holding the password; a reader may look but not submit or cancel. The password is
then in no member's file, no API answer (every GET walked), not in clear in PostgreSQL, and
not in the server's log or on its disk."""
from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from aml_magic.domain.config import init_project
from aml_magic.domain.teamdb import connect
from tests._wait import wait_until
from tests.fixtures.sshd import SshServer
from tests.team.conftest import TeamServer, aml, member_env
from tests.team.test_server import files_holding, http, members, one_error_line

pytestmark = [pytest.mark.postgres, pytest.mark.sshd]
__all__ = ["members"]          # the fixture, shared with test_server.py

TARGET = "shared-vm"
HELLO = "import sys\nprint('hello from the shared target', sys.argv[1], flush=True)\n"


@pytest.fixture(scope="module")
def remote_base(sshd: SshServer) -> Iterator[str]:
    name = f".aml-team-{os.urandom(4).hex()}"
    yield f"~/{name}"
    subprocess.run(["rm", "-rf", str(Path(sshd.home) / name)], check=False)


def ended(server: TeamServer, run_id: str, token: str, seconds: float) -> dict[str, Any]:
    """The run of the server's ``team`` project once it has ended, read with TOKEN."""
    def look() -> dict[str, Any] | None:
        shown = http(server, f"/aml/api/runs/{run_id}?project=team", token)[1]
        return shown if shown["status"] in ("Completed", "Failed", "Canceled") else None
    return wait_until(look, seconds, f"run {run_id} ends", interval=0.5)


def linked_project(server: TeamServer, member: str) -> Path:
    """A project on MEMBER's machine, linked to the workspace."""
    project = init_project(server.homes[member] / "work")
    linked = aml(server.homes[member], "workspace", "link", server.url, "--project",
                 str(project))
    assert linked.returncode == 0, linked.stderr
    return project


@pytest.fixture(scope="module")
def shared(team_server: TeamServer, members: dict[str, str], sshd: SshServer,
           remote_base: str) -> Iterator[dict[str, Path]]:
    """ada attaches the sshd target once, by password on stdin, from her linked project."""
    projects = {name: linked_project(team_server, name) for name in ("ada", "bob", "rex")}
    attached = aml(team_server.homes["ada"], "computetarget", "attach", "remote", "-n", TARGET,
                   "-a", f"{sshd.host}:{sshd.port}", "-u", sshd.username, "--password-stdin",
                   "--trust-new-host-key", "--remote-base-dir", remote_base, "--project",
                   str(projects["ada"]), stdin=sshd.password + "\n")
    assert attached.returncode == 0, attached.stderr
    assert f"attached the shared target '{TARGET}'" in attached.stdout
    # the project the members submit to, on the server (team-submit uploads it)
    server_project = init_project(team_server.artifacts / "projects" / "team")
    (server_project / "hello.py").write_text(HELLO)
    yield projects


def submit(server: TeamServer, token: str, run_configuration: str = TARGET) -> tuple[int, Any]:
    return http(server, "/aml/api/runs?project=team", token, "POST",
                {"run_configuration": run_configuration, "script": "team/hello.py",
                 "arguments": ["by-name"]})


def every_get(server: TeamServer, token: str, run_id: str) -> dict[str, tuple[int, Any]]:
    """Every GET route of the server, asked about the shared target and the run."""
    q = "?project=team"
    paths = ["/health", "/aml/api/whoami", "/aml/api/members", "/aml/api/audit",
             "/aml/api/workspace/runs", "/aml/api/workspace/targets", "/aml/api/version",
             f"/aml/api/projects{q}", f"/aml/api/targets{q}", "/aml/api/target-types",
             f"/aml/api/targets/{TARGET}/environment{q}", f"/aml/api/runconfigs{q}",
             f"/aml/api/runs{q}", f"/aml/api/run-table{q}", f"/aml/api/runs/{run_id}{q}",
             f"/aml/api/runs/{run_id}/log{q}", f"/aml/api/runs/{run_id}/metrics{q}",
             f"/aml/api/runs/{run_id}/outputs{q}"]
    return {path: http(server, path, token) for path in paths}


def database_text(database: str) -> str:
    """Every row of every table of the workspace's database, as PostgreSQL prints it."""
    with connect(database) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()]
        return "\n".join(str(row) for table in tables
                         for row in conn.execute(f'SELECT t::text FROM "{table}" t').fetchall())


def test_a_contributor_submits_to_the_admins_target_without_its_password(
        team_server: TeamServer, members: dict[str, str], shared: dict[str, Path],
        sshd: SshServer) -> None:
    homes = team_server.homes
    # Given the shared target, which bob lists from his own linked project
    listed = aml(homes["bob"], "computetarget", "list", "--project", str(shared["bob"]))
    assert listed.returncode == 0, listed.stderr
    assert TARGET in listed.stdout and sshd.host in listed.stdout
    assert not (shared["bob"] / "aml_config" / f"{TARGET}.compute").exists()
    # and the server's project shows it before any submit (its targets and run configurations)
    names = [t["name"] for t in http(team_server, "/aml/api/targets?project=team",
                                     members["rex"])[1]["targets"]]
    assert TARGET in names
    configs = http(team_server, "/aml/api/runconfigs?project=team", members["bob"])[1]
    assert TARGET in [c["name"] for c in configs["run_configurations"]]
    # When bob submits to it by name
    status, run = submit(team_server, members["bob"])
    assert status == 201, run
    run_id = str(run["run_id"])

    # Then the run completes on the sshd target with its output
    done = ended(team_server, run_id, members["rex"], 180)
    assert done["status"] == "Completed", done
    log = http(team_server, f"/aml/api/runs/{run_id}/log?project=team", members["rex"])[1]
    assert "hello from the shared target by-name" in str(log)
    assert done["target"] == TARGET

    # And the reader sees it but may not submit, cancel, attach or detach
    assert submit(team_server, members["rex"])[0] == 403
    status, answer = http(team_server, f"/aml/api/runs/{run_id}/cancel?project=team",
                          members["rex"], "POST", {})
    assert status == 403 and "\n" not in answer["message"]
    for token in (members["rex"], members["bob"]):
        status, answer = http(team_server, "/aml/api/workspace/targets", token, "POST",
                              {"type": "remote", "name": "mine", "address": "x",
                               "username": "u", "password": "p"})
        assert status == 403 and "needs the admin role" in answer["message"], answer
        assert http(team_server, f"/aml/api/workspace/targets/{TARGET}", token,
                    "DELETE")[0] == 403
    # And no token is a 401
    assert http(team_server, "/aml/api/workspace/targets")[0] == 401

    # Then the password is in no API answer: every GET, as the admin and as the reader
    for token in (members["ada"], members["rex"]):
        answers = every_get(team_server, token, run_id)
        assert all(status < 500 for status, _ in answers.values()), answers
        leaks = [path for path, (_, body) in answers.items() if sshd.password in str(body)]
        assert leaks == []
    assert answers["/aml/api/workspace/targets"][0] == 200
    # nor in any member's files, nor anywhere on the server's disk (artifacts, its HOME)
    for home in ("ada", "bob", "rex", "server"):
        assert files_holding(homes[home], sshd.password) == [], home
    assert files_holding(team_server.artifacts, sshd.password) == []
    # nor in clear in PostgreSQL, where the key store holds it encrypted
    text = database_text(team_server.database)
    assert sshd.password not in text and sshd.password.encode().hex() not in text
    with connect(team_server.database) as conn:
        kinds = [r[0] for r in conn.execute("SELECT kind FROM key_store").fetchall()]
    assert kinds == ["password"]
    # nor in the server's log
    assert sshd.password not in team_server.output.read_text(errors="replace")
    # And the attach is in the audit log, by ada
    entries = http(team_server, "/aml/api/audit", members["ada"])[1]["entries"]
    assert ("ada", "target.attach", TARGET) in [(e["actor"], e["action"], e["subject"])
                                                for e in entries]


def test_a_sweep_runs_on_the_shared_target_with_the_key_store(
        team_server: TeamServer, members: dict[str, str], shared: dict[str, Path]) -> None:
    # Given the shared sshd target, whose password only the server's key store holds
    # When bob submits a sweep of two points to it
    status, parent = http(team_server, "/aml/api/runs?project=team", members["bob"], "POST",
                          {"run_configuration": TARGET, "script": "team/hello.py",
                           "arguments": ["{k}"], "sweep": ["k=one,two"]})
    assert status == 201 and parent["kind"] == "sweep", parent
    parent_id = str(parent["run_id"])

    # Then the server's driver starts both children there and the sweep completes
    done = ended(team_server, parent_id, members["rex"], 240)
    assert done["status"] == "Completed", done
    runs = http(team_server, "/aml/api/runs?project=team", members["rex"])[1]["runs"]
    children = [r for r in runs if r.get("parent_run_id") == parent_id]
    assert len(children) == 2 and {r["target"] for r in children} == {TARGET}
    logs = "".join(http(team_server, f"/aml/api/runs/{r['run_id']}/log?project=team",
                        members["rex"])[1]["text"] for r in children)
    assert "hello from the shared target one" in logs and "two" in logs, logs


def test_a_shared_target_by_ssh_key(team_server: TeamServer, members: dict[str, str],
                                    shared: dict[str, Path], sshd: SshServer,
                                    remote_base: str) -> None:
    homes = team_server.homes
    pem = sshd.client_key_path.read_text()
    secret_line = max(pem.splitlines(), key=len)           # a line of the key's body
    # Given ada attaches a second shared target with the key file on her machine
    attached = aml(homes["ada"], "computetarget", "attach", "remote", "-n", "shared-key",
                   "-a", f"{sshd.host}:{sshd.port}", "-u", sshd.username, "--key-file",
                   str(sshd.client_key_path), "--trust-new-host-key", "--remote-base-dir",
                   remote_base, "--project", str(shared["ada"]))
    assert attached.returncode == 0, attached.stderr
    # When bob submits to it by name
    status, run = submit(team_server, members["bob"], "shared-key")
    assert status == 201, run
    run_id = str(run["run_id"])
    done = wait_until(lambda: (lambda r: r if r["status"] in ("Completed", "Failed") else None)(
        http(team_server, f"/aml/api/runs/{run_id}?project=team", members["bob"])[1]), 180,
        f"run {run_id} ends", interval=0.5)
    # Then it completes, logged in with the key from the key store
    assert done["status"] == "Completed", done
    # And the key is in no member's or the server's files, not in clear in PostgreSQL, not in
    # the log; in memory-backed /dev/shm only the running server's own 0600 copy holds it
    for home in ("ada", "bob", "rex", "server"):
        assert files_holding(homes[home], secret_line) == [], home
    assert files_holding(team_server.artifacts, secret_line) == []
    assert secret_line not in database_text(team_server.database)
    assert secret_line not in team_server.output.read_text(errors="replace")
    copies = [p for p in Path("/dev/shm").glob("aml-*/*")
              if p.is_file() and secret_line.encode() in p.read_bytes()]
    assert copies and all(p.parent.name.startswith("aml-server-keys-") for p in copies), copies
    assert all(p.stat().st_mode & 0o777 == 0o600 and p.parent.stat().st_mode & 0o777 == 0o700
               for p in copies)
    assert not any(p.is_dir() for p in Path("/dev/shm").glob("aml-attach-*")
                   if any(secret_line.encode() in f.read_bytes() for f in p.iterdir()))
    # And detaching it deletes the key from the key store
    detached = aml(homes["ada"], "computetarget", "detach", "-n", "shared-key", "--project",
                   str(shared["ada"]))
    assert detached.returncode == 0, detached.stderr
    with connect(team_server.database) as conn:
        assert [r[0] for r in conn.execute("SELECT kind FROM key_store").fetchall()] == \
            ["password"]
    assert not any(p.exists() for p in copies)          # nor its decrypted copy


def test_bad_input_is_one_line(team_server: TeamServer, members: dict[str, str],
                               shared: dict[str, Path]) -> None:
    homes = team_server.homes
    # An unknown target: a submit naming it, a detach of it
    status, answer = submit(team_server, members["bob"], "no-such-target")
    assert 400 <= status < 500 and "\n" not in answer["message"], answer
    gone = one_error_line(aml(homes["ada"], "computetarget", "detach", "-n", "no-such-target",
                              "--project", str(shared["ada"])))
    assert "no shared target 'no-such-target'" in gone
    # A contributor attaching from a linked project: 403 in one line, nothing sent anywhere
    refused = one_error_line(aml(homes["bob"], "computetarget", "attach", "remote", "-n", "b",
                                 "-a", "127.0.0.1:1", "-u", "u", "--password-stdin",
                                 "--trust-new-host-key", "--project", str(shared["bob"]),
                                 stdin="bobs-secret\n"))
    assert "not allowed (403)" in refused and "admin" in refused
    # A linked project on a machine not logged in: one line saying which login to make
    logged_out = one_error_line(aml(homes["server"], "computetarget", "list", "--project",
                                    str(shared["bob"])))
    assert f"aml workspace login {team_server.url}" in logged_out
    # A key file path on the server's machine is refused for a shared target
    status, answer = http(team_server, "/aml/api/workspace/targets", members["ada"], "POST",
                          {"type": "remote", "name": "k", "address": "127.0.0.1:1",
                           "username": "u", "key_file": "/etc/shadow"})
    assert status == 400 and "key_file" in answer["message"]
    # A second attach under the same name
    status, answer = http(team_server, "/aml/api/workspace/targets", members["ada"], "POST",
                          {"type": "local", "name": TARGET})
    assert status == 409 and "exists already" in answer["message"]


def test_the_key_file_missing_open_or_wrong_is_one_line_at_start(team_server: TeamServer,
                                                                  tmp_path: Path) -> None:
    home = team_server.homes["server"]

    def start(key: Path) -> str:
        proc = subprocess.run(
            [*aml_start(team_server), "--key-file", str(key)],
            env=member_env(home), capture_output=True, text=True, timeout=120)
        return one_error_line(proc)
    missing = start(tmp_path / "none.key")
    assert str(tmp_path / "none.key") in missing and "no key file" in missing
    assert "--key-file" in missing
    wrong = tmp_path / "wrong.key"
    wrong.write_bytes(base64.urlsafe_b64encode(os.urandom(32)))
    wrong.chmod(0o644)
    assert "chmod 600" in start(wrong)
    wrong.chmod(0o600)
    assert "does not open the workspace's key store" in start(wrong)
    wrong.chmod(0o000)
    if os.geteuid() != 0:           # root reads any file
        assert "cannot read the key file" in start(wrong)


def test_detach_removes_the_target_and_its_secret(team_server: TeamServer,
                                                  members: dict[str, str],
                                                  shared: dict[str, Path],
                                                  sshd: SshServer) -> None:
    homes = team_server.homes
    # run last in the module (pytest keeps file order): the other tests use the target
    detached = aml(homes["ada"], "computetarget", "detach", "-n", TARGET, "--project",
                   str(shared["ada"]))
    assert detached.returncode == 0, detached.stderr
    assert http(team_server, "/aml/api/workspace/targets", members["rex"])[1] == {"targets": []}
    with connect(team_server.database) as conn:
        assert conn.execute("SELECT count(*) FROM key_store").fetchone()[0] == 0
    # and a submit to it now fails as for any unknown target (the server's copy is removed)
    status, answer = submit(team_server, members["bob"])
    assert 400 <= status < 500 and TARGET in answer["message"], answer
    entries = http(team_server, "/aml/api/audit", members["ada"])[1]["entries"]
    assert ("ada", "target.detach", TARGET) in [(e["actor"], e["action"], e["subject"])
                                                for e in entries]


def aml_start(server: TeamServer) -> list[str]:
    return [sys.executable, "-m", "aml_magic", "server", "start", "--database", server.database,
            "--artifacts", str(server.artifacts), "--port", "0"]


def test_migration_3_gives_an_older_workspace_its_key(pg_database: str, tmp_path: Path) -> None:
    from aml_magic.domain.teamdb import migrate
    home = tmp_path / "home"
    home.mkdir()
    # Given a workspace database made before the key store (version 2, a member)
    with connect(pg_database) as conn:
        assert migrate(conn, target=2) == [1, 2]
        conn.execute("INSERT INTO members (name, role) VALUES ('old', 'admin')")
        conn.commit()
    key = tmp_path / "server.key"
    # When it is migrated with a key file: the file is created 0600 and becomes the key
    migrated = aml(home, "server", "migrate", "--database", pg_database, "--key-file", str(key))
    assert migrated.returncode == 0, migrated.stderr
    assert "applied migrations 3" in migrated.stdout
    assert key.stat().st_mode & 0o777 == 0o600
    with connect(pg_database) as conn:
        assert conn.execute("SELECT count(*) FROM members").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM key_store_check").fetchone()[0] == 1
    # Then the same key is accepted again, and another one refused in one line
    assert aml(home, "server", "migrate", "--database", pg_database, "--key-file",
               str(key)).returncode == 0
    other = tmp_path / "other.key"
    refused = one_error_line(aml(home, "server", "migrate", "--database", pg_database,
                                 "--key-file", str(other)))
    assert "does not open the workspace's key store" in refused
    assert not other.exists()

