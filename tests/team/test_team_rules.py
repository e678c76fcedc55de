"""Rules of the team server beyond roles, against a real ``aml server`` on a real PostgreSQL:
contributors cancel only their own runs (the owner recorded at submit), tokens that expire,
``aml workspace token revoke``, and the migration that brought the expiry column."""
from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest

from aml_magic.domain.teamdb import SCHEMA_VERSION, MemberStore, TeamDatabase, connect, migrate
from aml_magic.domain.teamdb.members import TokenRefused
from tests._wait import wait_until
from tests.fixtures.postgres import PostgresServer
from tests.team.conftest import TeamServer, aml
from tests.team.test_server import http, members, one_error_line

pytestmark = pytest.mark.postgres
__all__ = ["members"]          # the fixture, shared with test_server.py

SLEEPER = "import time\nprint('started', flush=True)\ntime.sleep(600)\n"


def add_member(server: TeamServer, name: str, role: str, *extra: str) -> str:
    token_file = server.homes["ada"] / f"{name}.token"
    token_file.unlink(missing_ok=True)
    added = aml(server.homes["ada"], "workspace", "member", "add", name, "--role", role,
                "--token-file", str(token_file), *extra)
    assert added.returncode == 0, added.stderr
    return token_file.read_text().strip()


def submit(server: TeamServer, token: str, project: str = "own") -> str:
    status, run = http(server, f"/aml/api/runs?project={project}", token, "POST",
                       {"run_configuration": "local", "script": f"{project}/sleeper.py",
                        "arguments": []})
    assert status == 201, run
    run_id = str(run["run_id"])

    def running() -> bool:
        shown = http(server, f"/aml/api/runs/{run_id}?project={project}", token)[1]
        return shown["status"] == "Running"
    wait_until(running, 60, f"run {run_id} running", interval=0.2)
    return run_id


def cancel(server: TeamServer, token: str, run_id: str) -> tuple[int, Any]:
    return http(server, f"/aml/api/runs/{run_id}/cancel?project=own", token, "POST", {})


def test_contributors_cancel_only_their_own_runs(team_server: TeamServer,
                                                 members: dict[str, str]) -> None:
    from aml_magic.domain.config import init_project
    project = init_project(team_server.artifacts / "projects" / "own")
    (project / "sleeper.py").write_text(SLEEPER)
    cal = add_member(team_server, "cal", "contributor")
    # Given a run submitted through the server by bob and one by cal
    bobs, cals = submit(team_server, members["bob"]), submit(team_server, cal)
    with connect(team_server.database) as conn:
        owners = dict(conn.execute("SELECT run_id, owner FROM run_owners WHERE project = 'own'")
                      .fetchall())
    assert owners == {bobs: "bob", cals: "cal"}
    # When cal cancels bob's run: 403, one line naming the rule and the owner
    status, answer = cancel(team_server, cal, bobs)
    assert status == 403 and "\n" not in answer["message"]
    assert "may cancel only their own runs" in answer["message"]
    assert "belongs to 'bob'" in answer["message"] and "admins may cancel any" in answer["message"]
    # And a reader cannot cancel at all, told the rule
    status, answer = cancel(team_server, members["rex"], bobs)
    assert status == 403 and "needs the contributor role" in answer["message"]
    assert "contributors cancel only their own runs" in answer["message"]
    # And a run id that names no run is still a 404 for a contributor
    assert cancel(team_server, cal, "own-20200101-000000-dead")[0] == 404
    # Then bob cancels his own, and the admin cancels cal's
    assert cancel(team_server, members["bob"], bobs)[0] == 202
    assert cancel(team_server, members["ada"], cals)[0] == 202
    for run_id in (bobs, cals):
        wait_until(lambda rid=run_id: http(team_server, f"/aml/api/runs/{rid}?project=own",
                                           members["rex"])[1]["status"] == "Canceled", 60,
                   f"{run_id} canceled")

    # And only the two cancels that happened are in the audit log, by who did them
    def cancels() -> list[tuple[str, str]]:
        entries = http(team_server, "/aml/api/audit", members["ada"])[1]["entries"]
        return [(e["actor"], e["subject"]) for e in entries if e["action"] == "run.cancel"]
    found = wait_until(lambda: len(cancels()) >= 2 and cancels(), 30, "cancels audited")
    assert sorted(found) == sorted([("bob", bobs), ("ada", cals)])


def test_a_rerun_belongs_to_the_member_who_asked(team_server: TeamServer,
                                                members: dict[str, str]) -> None:
    from aml_magic.domain.config import init_project
    project = init_project(team_server.artifacts / "projects" / "own")
    (project / "sleeper.py").write_text(SLEEPER)
    dee = add_member(team_server, "dee", "contributor")
    # Given bob's run
    bobs = submit(team_server, members["bob"])
    # When dee re-runs it (a reader may not)
    assert http(team_server, f"/aml/api/runs/{bobs}/rerun?project=own", members["rex"], "POST",
                {})[0] == 403
    status, again = http(team_server, f"/aml/api/runs/{bobs}/rerun?project=own", dee, "POST", {})
    assert status == 201, again
    # Then the new run is dee's: dee may cancel it, bob may not; bob's run stays bob's
    with connect(team_server.database) as conn:
        owners = dict(conn.execute("SELECT run_id, owner FROM run_owners WHERE project = 'own'")
                      .fetchall())
    assert (owners[bobs], owners[again["run_id"]]) == ("bob", "dee")
    assert cancel(team_server, members["bob"], again["run_id"])[0] == 403
    assert cancel(team_server, dee, again["run_id"])[0] == 202
    assert cancel(team_server, members["bob"], bobs)[0] == 202


def test_a_pushed_runs_owner_is_used(team_server: TeamServer, members: dict[str, str]) -> None:
    from aml_magic.service.team.service import TeamService
    team = TeamService(team_server.database, team_server.artifacts)
    try:
        from aml_magic.domain.teamdb import Member
        with connect(team_server.database, autocommit=True) as conn:
            conn.execute("INSERT INTO runs (run_id, project, target, target_type, status, "
                         "created_at, owner) VALUES ('own-20240101-000000-beef', 'own', "
                         "'local', 'local', 'Running', 1, 'bob')")
        assert team.members.run_owner("own", "own-20240101-000000-beef") == "bob"
        team.check_cancel(Member("bob", "contributor"), "own", "own-20240101-000000-beef")
        from aml_magic.errors import ApiError
        with pytest.raises(ApiError, match="belongs to 'bob'"):
            team.check_cancel(Member("cal", "contributor"), "own", "own-20240101-000000-beef")
    finally:
        team.close()


def test_an_expired_token_is_401_in_one_line(team_server: TeamServer,
                                             members: dict[str, str]) -> None:
    homes = team_server.homes
    # Given eve, whose token expires in 2 days
    token = add_member(team_server, "eve", "reader", "--expires-in", "2")
    assert http(team_server, "/aml/api/whoami", token)[0] == 200
    eve = homes["server"]
    assert aml(eve, "workspace", "login", team_server.url, "--token-stdin",
               stdin=token).returncode == 0
    with connect(team_server.database, autocommit=True) as conn:
        left = conn.execute("SELECT expires_at - now() FROM tokens t JOIN members m ON "
                            "m.name = t.member WHERE m.name = 'eve'").fetchone()[0]
        assert datetime.timedelta(days=1.99) < left <= datetime.timedelta(days=2)
        # When the 2 days are over (the clock moved on: the expiry moved back)
        conn.execute("UPDATE tokens SET expires_at = now() - interval '1 hour' "
                     "WHERE member = 'eve'")
        day = conn.execute("SELECT to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') "
                           "FROM tokens WHERE member = 'eve'").fetchone()[0]
    # Then the API answers 401 saying when it expired and what to do, in one line
    status, answer = http(team_server, "/aml/api/whoami", token)
    assert status == 401
    assert answer["message"].startswith(f"token expired on {day} ")
    assert "ask an admin for a new one (aml workspace member add " in answer["message"]
    line = one_error_line(aml(eve, "workspace", "member", "list"))
    assert "not authenticated (401): token expired on" in line
    # And the admin gives eve a new token with `member add` (her old ones are all expired)
    fresh = add_member(team_server, "eve", "reader")
    assert http(team_server, "/aml/api/whoami", fresh) == (200, {"name": "eve", "role": "reader"})
    assert http(team_server, "/aml/api/whoami", token)[0] == 401
    # But not while she holds a usable one
    line = one_error_line(aml(homes["ada"], "workspace", "member", "add", "eve", "--role",
                              "reader", "--token-file", str(homes["ada"] / "eve2.token")))
    assert "usable token" in line
    line = one_error_line(aml(homes["ada"], "workspace", "member", "add", "zed", "--role",
                              "reader", "--token-file", str(homes["ada"] / "z.token"),
                              "--expires-in", "0"))
    assert "--expires-in must be" in line


def test_token_revoke(team_server: TeamServer, members: dict[str, str]) -> None:
    homes = team_server.homes
    token = add_member(team_server, "fay", "contributor")
    # A contributor may not revoke, in one line
    line = one_error_line(aml(homes["bob"], "workspace", "token", "revoke", "fay"))
    assert "not allowed (403)" in line and "admin role" in line
    assert http(team_server, "/aml/api/whoami", token)[0] == 200
    # When the admin revokes fay's tokens
    revoked = aml(homes["ada"], "workspace", "token", "revoke", "fay")
    assert revoked.returncode == 0, revoked.stderr
    # Then her token is refused as revoked, she stays a member, and the audit log says so
    status, answer = http(team_server, "/aml/api/whoami", token)
    assert status == 401 and "revoked" in answer["message"]
    assert "fay\tcontributor" in aml(homes["ada"], "workspace", "member", "list").stdout
    entries = http(team_server, "/aml/api/audit", members["ada"])[1]["entries"]
    assert ("ada", "token.revoke", "fay") in [(e["actor"], e["action"], e["subject"])
                                              for e in entries]
    # And no member left: one line
    assert "no member 'nobody'" in one_error_line(
        aml(homes["ada"], "workspace", "token", "revoke", "nobody"))


def test_init_admin_token_expiry(postgres: PostgresServer, tmp_path: Path) -> None:
    database = postgres.create_database()
    init = aml(tmp_path, "server", "init", "--database", database, "--artifacts",
               str(tmp_path / "a"), "--admin", "ada", "--token-file", str(tmp_path / "t"),
               "--token-expires-in", "30")
    assert init.returncode == 0, init.stderr
    with connect(database) as conn:
        left = conn.execute("SELECT expires_at - now() FROM tokens").fetchone()[0]
    assert datetime.timedelta(days=29.99) < left <= datetime.timedelta(days=30)


def test_migration_2_keeps_members_and_their_tokens(pg_database: str) -> None:
    # Given a database at schema version 1 with a member
    with connect(pg_database) as conn:
        assert migrate(conn, target=1) == [1]
        conn.execute("INSERT INTO members (name, role) VALUES ('old', 'admin')")
        conn.execute("INSERT INTO tokens (token_hash, member) VALUES (%s, 'old')",
                     (__import__("hashlib").sha256(b"aml_old").hexdigest(),))
        conn.commit()
        # When it is migrated (step 2, then whatever came after it)
        assert migrate(conn, target=2) == [2]
        assert migrate(conn) == list(range(3, SCHEMA_VERSION + 1))
    # Then the old token still works, with no expiry
    db = TeamDatabase(pg_database)
    try:
        store = MemberStore(db)
        assert store.authenticate("aml_old").name == "old"
        with pytest.raises(TokenRefused, match="not known"):
            store.authenticate("aml_other")
    finally:
        db.close()


def test_link_writes_the_url_only_and_show_names_it(team_server: TeamServer,
                                                    members: dict[str, str]) -> None:
    from aml_magic.domain.config import init_project
    home = team_server.homes["bob"]
    project = init_project(home / "linked")
    link_file = project / "aml_config" / "workspace.yml"
    # When bob links his project to the workspace
    linked = aml(home, "workspace", "link", team_server.url + "/", "--project", str(project))
    assert linked.returncode == 0, linked.stderr
    # Then the file holds the URL and no secret, and show names the link beside the login
    text = link_file.read_text()
    assert f'url: "{team_server.url}"' in text.splitlines()
    assert members["bob"] not in text and "token" not in text.lower().replace("never a secret", "")
    shown = aml(home, "workspace", "show", "--project", str(project))
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == [
        f"{team_server.url}: bob (contributor)",
        f"project linked is linked to {team_server.url} (aml_config/workspace.yml)"]
    # And linking again to the same URL changes nothing; to another is refused without --force
    assert "already" in aml(home, "workspace", "link", team_server.url, "--project",
                            str(project)).stdout
    line = one_error_line(aml(home, "workspace", "link", "https://other.example.org",
                              "--project", str(project)))
    assert f"links this project to {team_server.url}" in line and "--force" in line
    assert f'url: "{team_server.url}"' in link_file.read_text()
    forced = aml(home, "workspace", "link", "https://other.example.org", "--force",
                 "--project", str(project))
    assert forced.returncode == 0 and 'url: "https://other.example.org"' in link_file.read_text()
    # And a URL carrying a secret is never written
    line = one_error_line(aml(home, "workspace", "link", "https://bob:pw@aml.example.org",
                              "--force", "--project", str(project)))
    assert "never a user, password or token" in line and "pw" not in line
    line = one_error_line(aml(home, "workspace", "link", f"{team_server.url}/?token=x",
                              "--force", "--project", str(project)))
    assert "URL only" in line
    assert "pw" not in link_file.read_text() and "token=x" not in link_file.read_text()
    assert not [p for p in (project / "aml_config").iterdir() if p.name.endswith(".tmp")]
    # And unlink removes it
    unlinked = aml(home, "workspace", "unlink", "--project", str(project))
    assert unlinked.returncode == 0 and "unlinked from https://other.example.org" in unlinked.stdout
    assert not link_file.exists()


def test_show_in_a_linked_project_without_login(tmp_path: Path) -> None:
    from aml_magic.domain.config import init_project
    project = init_project(tmp_path / "p")
    assert aml(tmp_path, "workspace", "link", "https://aml.example.org",
               "--project", str(project)).returncode == 0
    shown = aml(tmp_path, "workspace", "show", "--project", str(project))
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == [
        "not logged in to a workspace (`aml workspace login URL --token-stdin`)",
        "project p is linked to https://aml.example.org (aml_config/workspace.yml)"]
    # Outside a linked project, show without a login is still the one-line error
    assert "not logged in" in one_error_line(aml(tmp_path, "workspace", "show"))
