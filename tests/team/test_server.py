"""``aml server`` and ``aml workspace`` end to end: a real server process on a real PostgreSQL,
three members (ada: admin, bob: contributor, rex: reader) in three HOME folders."""
from __future__ import annotations

import json
import os
import signal
import stat
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from aml_magic.domain.secrets import SecretStore
from aml_magic.domain.teamdb import SCHEMA_VERSION, connect
from tests.fixtures.postgres import PostgresServer
from tests.team.conftest import TeamServer, aml, start_server

pytestmark = pytest.mark.postgres


def http(server: TeamServer, path: str, token: str | None = None, method: str = "GET",
         body: dict[str, Any] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(server.url + path, method=method,
                                     data=None if body is None else json.dumps(body).encode())
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            text = answer.read()
            return answer.status, json.loads(text) if text else None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def files_holding(root: Path, needle: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


def one_error_line(proc: Any) -> str:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("aml: error: "), proc.stderr
    return str(lines[0])


@pytest.fixture(scope="module")
def members(team_server: TeamServer) -> dict[str, str]:
    """ada logs in; she adds bob (contributor) and rex (reader), who log in on their machines."""
    homes = team_server.homes
    tokens = {"ada": (homes["ada"] / "ada.token").read_text().strip()}
    login = aml(homes["ada"], "workspace", "login", team_server.url, "--token-stdin",
                stdin=tokens["ada"] + "\n")
    assert login.returncode == 0, login.stderr
    for name, role in (("bob", "contributor"), ("rex", "reader")):
        token_file = homes[name] / f"{name}.token"
        added = aml(homes["ada"], "workspace", "member", "add", name, "--role", role,
                    "--token-file", str(token_file))
        assert added.returncode == 0, added.stderr
        tokens[name] = token_file.read_text().strip()
        login = aml(homes[name], "workspace", "login", team_server.url, "--token-stdin",
                    stdin=tokens[name] + "\n")
        assert login.returncode == 0, login.stderr
        assert f"as {name} ({role})" in login.stdout
    return tokens


def test_init_writes_the_admin_token_mode_0600(team_server: TeamServer) -> None:
    token_file = team_server.homes["ada"] / "ada.token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = token_file.read_text().strip()
    # Then the database holds only its hash
    with connect(team_server.database) as conn:
        stored = [r[0] for r in conn.execute("SELECT token_hash FROM tokens")]
    assert token.startswith("aml_") and token not in stored and len(stored) >= 1


def test_health_answers_without_token(team_server: TeamServer) -> None:
    assert http(team_server, "/health") == (200, {"status": "ok", "database": "ok"})


def test_no_token_is_401_in_one_line(team_server: TeamServer) -> None:
    status, answer = http(team_server, "/aml/api/whoami")
    assert status == 401 and answer["message"].startswith("no token")
    status, answer = http(team_server, "/aml/api/whoami", token="aml_forged")
    assert status == 401 and "not known" in answer["message"]


def test_login_keeps_the_token_in_the_secret_store_only(team_server: TeamServer,
                                                        members: dict[str, str]) -> None:
    for name in ("ada", "bob", "rex"):
        home = team_server.homes[name]
        login = json.loads((home / ".aml_magic" / "workspace.json").read_text())
        # Then the login file names the token by reference, and the store has it
        assert login["member"] == name and login["token_ref"].startswith("aml-secret:workspace/")
        store = SecretStore(home / ".aml_magic" / "secrets")
        assert store.get(login["token_ref"]) == members[name]
        holding = files_holding(home, members[name])
        stray = [p for p in holding if store.root not in p.parents
                 and p.name != f"{name}.token"]          # the file the admin handed over
        assert not stray, stray
        shown = aml(home, "workspace", "show")
        assert shown.stdout.strip() == f"{team_server.url}: {name} ({login['role']})"
    # And no member's token is in another member's HOME, nor in the server's log
    assert not files_holding(team_server.homes["rex"], members["bob"])
    log = team_server.output.read_text()
    assert "GET /aml/api/whoami" in log and not [t for t in members.values() if t in log]


def test_roles_401_403(team_server: TeamServer, members: dict[str, str]) -> None:
    # A reader reads, but an admin endpoint is 403 naming the role it needs
    assert http(team_server, "/aml/api/whoami", members["rex"]) == (
        200, {"name": "rex", "role": "reader"})
    assert http(team_server, "/aml/api/version", members["rex"])[0] == 200
    status, answer = http(team_server, "/aml/api/members", members["rex"])
    assert status == 403 and "needs the admin role" in answer["message"]
    # A reader cannot cancel; a contributor gets past the role check (to a 404: no such run)
    status, answer = http(team_server, "/aml/api/runs/r1/cancel", members["rex"], "POST", {})
    assert status == 403 and "needs the contributor role" in answer["message"]
    assert http(team_server, "/aml/api/runs/r1/cancel", members["bob"], "POST", {})[0] == 404
    # Only admins attach targets
    status, answer = http(team_server, "/aml/api/targets", members["bob"], "POST",
                          {"type": "local", "name": "x"})
    assert status == 403 and "admin" in answer["message"]
    # And in the CLI each is one line
    line = one_error_line(aml(team_server.homes["rex"], "workspace", "member", "add", "eve",
                              "--role", "reader", "--token-file",
                              str(team_server.homes["rex"] / "eve.token")))
    assert "not allowed (403)" in line and "admin role" in line
    assert not (team_server.homes["rex"] / "eve.token").exists()


def test_member_remove_revokes_and_is_audited(team_server: TeamServer,
                                              members: dict[str, str]) -> None:
    homes = team_server.homes
    added = aml(homes["ada"], "workspace", "member", "add", "tmp", "--role", "reader",
                "--token-file", str(homes["ada"] / "tmp.token"))
    assert added.returncode == 0, added.stderr
    tmp_token = (homes["ada"] / "tmp.token").read_text().strip()
    assert http(team_server, "/aml/api/whoami", tmp_token)[0] == 200
    removed = aml(homes["ada"], "workspace", "member", "remove", "tmp")
    assert removed.returncode == 0, removed.stderr
    # Then the token is refused as revoked, with one line
    status, answer = http(team_server, "/aml/api/whoami", tmp_token)
    assert status == 401 and "revoked" in answer["message"]
    listed = aml(homes["ada"], "workspace", "member", "list")
    assert "tmp" not in listed.stdout.split() and "bob\tcontributor" in listed.stdout
    status, log = http(team_server, "/aml/api/audit", members["ada"])
    entries = [(e["actor"], e["action"], e["subject"]) for e in log["entries"]]
    assert entries[:2] == [("ada", "member.remove", "tmp"), ("ada", "member.add", "tmp")]
    assert ("ada", "member.add", "bob") in entries and ("ada", "member.add", "rex") in entries


def test_revoked_login_is_one_line_in_the_cli(team_server: TeamServer,
                                              members: dict[str, str]) -> None:
    homes = team_server.homes
    added = aml(homes["ada"], "workspace", "member", "add", "leaver", "--role", "admin",
                "--token-file", str(homes["server"] / "leaver.token"))
    assert added.returncode == 0, added.stderr
    token = (homes["server"] / "leaver.token").read_text()
    assert aml(homes["server"], "workspace", "login", team_server.url, "--token-stdin",
               stdin=token).returncode == 0
    assert aml(homes["ada"], "workspace", "member", "remove", "leaver").returncode == 0
    line = one_error_line(aml(homes["server"], "workspace", "member", "list"))
    assert "not authenticated (401)" in line and "revoked" in line
    # And logout deletes the token from the store
    ref = json.loads((homes["server"] / ".aml_magic" / "workspace.json").read_text())["token_ref"]
    assert aml(homes["server"], "workspace", "logout").returncode == 0
    assert not (homes["server"] / ".aml_magic" / "workspace.json").exists()
    assert not files_holding(homes["server"] / ".aml_magic", token.strip())
    assert ref


def test_server_unreachable_is_one_line(tmp_path: Path, members: dict[str, str]) -> None:
    home = tmp_path / "home"
    home.mkdir()
    line = one_error_line(aml(home, "workspace", "login", "http://127.0.0.1:9", "--token-stdin",
                              stdin=members["rex"]))
    assert "unreachable" in line
    assert one_error_line(aml(home, "workspace", "show")).endswith(
        "not logged in to a workspace; run `aml workspace login URL --token-stdin`")


def test_start_refuses_a_schema_too_old_or_too_new(postgres: PostgresServer,
                                                   tmp_path: Path) -> None:
    database = postgres.create_database()
    home = tmp_path / "home"
    home.mkdir()
    assert aml(home, "server", "init", "--database", database, "--artifacts",
               str(tmp_path / "a"), "--admin", "ada", "--token-file",
               str(tmp_path / "t")).returncode == 0
    with connect(database, autocommit=True) as conn:
        conn.execute("DELETE FROM schema_migrations WHERE version = %s", (SCHEMA_VERSION,))
    line = one_error_line(aml(home, "server", "start", "--database", database, "--artifacts",
                              str(tmp_path / "a"), "--port", "0"))
    assert "older" in line and "aml server migrate --database URL" in line
    with connect(database, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_migrations (version, description) VALUES (%s, 'x'), "
                     "(%s, 'future')", (SCHEMA_VERSION, SCHEMA_VERSION + 1))
    line = one_error_line(aml(home, "server", "start", "--database", database, "--artifacts",
                              str(tmp_path / "a"), "--port", "0"))
    assert "newer" in line and "upgrade aml_magic" in line
    line = one_error_line(aml(home, "server", "init", "--database", database, "--artifacts",
                              str(tmp_path / "a"), "--admin", "x", "--token-file",
                              str(tmp_path / "t2")))
    assert "newer" in line


def test_start_with_the_database_unreachable_is_one_line(tmp_path: Path,
                                                         postgres: PostgresServer) -> None:
    line = one_error_line(aml(tmp_path, "server", "start", "--database",
                              f"postgresql://{postgres.user}@/aml?host={tmp_path}/none",
                              "--artifacts", str(tmp_path / "a"), "--port", "0"))
    assert "database unreachable" in line


def test_sigterm_stops_cleanly(postgres: PostgresServer, tmp_path: Path) -> None:
    database = postgres.create_database()
    assert aml(tmp_path, "server", "init", "--database", database, "--artifacts",
               str(tmp_path / "a"), "--admin", "ada", "--token-file",
               str(tmp_path / "t")).returncode == 0
    proc, url = start_server(database, tmp_path / "a", tmp_path / "out", tmp_path)
    with urllib.request.urlopen(url + "/health", timeout=30) as answer:
        assert answer.status == 200
    os.kill(proc.pid, signal.SIGTERM)
    # Then it exits 0 and says so, with no traceback
    assert proc.wait(60) == 0
    output = (tmp_path / "out").read_text()
    assert output.rstrip().endswith("aml server: stopped") and "Traceback" not in output


def personal_history(root: Path, runs: int) -> list[str]:
    """A project of RUNS completed runs, each with a metric series and an artifact row."""
    from aml_magic.domain.config import init_project
    from aml_magic.domain.history import Artifact, Metric, RunRecord, RunStatus, RunStore
    from aml_magic.domain.history.records import new_run_id
    init_project(root)
    ids = []
    with RunStore(root) as store:
        for index in range(runs):
            record = RunRecord(run_id=new_run_id("proj", now=1_700_000_000 + index),
                               project="proj", target="local", created_at=1_700_000_000 + index,
                               command=["python", "train.py", str(index)],
                               environment={"SEED": str(index)})
            store.create_run(record, submitter=False, then=RunStatus.RUNNING)
            store.set_status(record.run_id, RunStatus.COMPLETED)
            store.add_metrics(record.run_id, [Metric("loss", 1.0 / (step + 1), step, 1.7e9 + step)
                                              for step in range(3)])
            store.set_artifacts(record.run_id, [Artifact("model.bin", 10, "ab" * 32)])
            ids.append(record.run_id)
    return ids


def test_history_push_is_idempotent_and_readers_list_it(team_server: TeamServer,
                                                        members: dict[str, str]) -> None:
    homes = team_server.homes
    project = homes["bob"] / "proj"
    ids = personal_history(project, 5)
    # When bob pushes his history twice
    first = aml(homes["bob"], "history", "push", "--project", str(project))
    again = aml(homes["bob"], "history", "push", "--project", str(project))
    assert first.returncode == 0, first.stderr
    assert "5 run(s) new on the workspace, 0 brought up to date" in first.stdout
    assert "0 run(s) new on the workspace, 5 brought up to date" in again.stdout
    # Then the shared history holds each run once, with its transitions and metrics once
    with connect(team_server.database) as conn:
        assert conn.execute("SELECT count(*) FROM runs WHERE run_id = ANY(%s)",
                            (ids,)).fetchone() == (5,)
        assert conn.execute("SELECT count(*) FROM metrics WHERE run_id = ANY(%s)",
                            (ids,)).fetchone() == (15,)
        statuses = [r[0] for r in conn.execute(
            "SELECT status FROM transitions WHERE run_id = %s ORDER BY id", (ids[0],))]
    assert statuses == ["Queued", "Running", "Completed"]
    # And a reader lists them newest first with their owner, filtered by status
    status, page = http(team_server, "/aml/api/workspace/runs?status=Completed&limit=3",
                        members["rex"])
    assert status == 200
    assert [r["run_id"] for r in page["runs"]] == ids[::-1][:3]
    assert {r["owner"] for r in page["runs"]} == {"bob"}
    # But a reader may not push, and another member's push leaves bob's runs alone
    line = one_error_line(aml(homes["rex"], "history", "push", "--project", str(project)))
    assert "not allowed (403)" in line and "contributor" in line
    taken = aml(homes["ada"], "history", "push", "--project", str(project))
    assert taken.returncode == 2 and "pushed by another member" in taken.stdout


def test_a_malformed_push_is_a_400_line(team_server: TeamServer,
                                        members: dict[str, str]) -> None:
    status, answer = http(team_server, "/aml/api/workspace/runs", members["bob"], "POST",
                          {"runs": [{"record": {"run_id": "../x", "project": "p",
                                                "target": "t", "target_type": "local",
                                                "status": "Completed", "created_at": 1}}]})
    assert status == 400 and "not a run id" in answer["message"]


def test_the_shared_handlers_serve_projects_and_attach_detach_are_audited(
        team_server: TeamServer, members: dict[str, str]) -> None:
    from aml_magic.domain.config import init_project
    from tests._wait import wait_until
    init_project(team_server.artifacts / "projects" / "p1")
    # When the admin attaches and detaches a target through the Jupyter extension's handlers
    status, target = http(team_server, "/aml/api/targets?project=p1", members["ada"], "POST",
                          {"type": "local", "name": "loc"})
    assert status == 201 and target["name"] == "loc"
    status, listing = http(team_server, "/aml/api/targets?project=p1", members["rex"])
    assert status == 200 and "loc" in [t["name"] for t in listing["targets"]]
    assert http(team_server, "/aml/api/targets/loc?project=p1", members["bob"], "DELETE")[0] == 403
    assert http(team_server, "/aml/api/targets/loc?project=p1", members["ada"], "DELETE")[0] == 204

    # Then both are in the audit log, by the admin, naming the target and the project
    def audited() -> list[tuple[str, str, str, Any]]:
        entries = http(team_server, "/aml/api/audit", members["ada"])[1]["entries"]
        return [(e["actor"], e["action"], e["subject"], e["detail"]) for e in entries
                if e["action"].startswith("target.")]
    found = wait_until(lambda: len(audited()) >= 2 and audited(), 30, "attach/detach audited")
    assert sorted(map(str, found)) == sorted(map(str, [
        ("ada", "target.detach", "loc", {"project": "p1"}),
        ("ada", "target.attach", "loc", {"project": "p1"})]))

