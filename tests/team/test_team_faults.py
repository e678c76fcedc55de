"""The faults the issue names, each one line, not yet covered elsewhere: the database
unreachable at ``aml server init|start`` (its password never shown), a schema too old naming
the migration to run (and ``aml server migrate`` fixing it), an expired or revoked token in a
linked project's verbs, and the server unreachable from a linked project while an unlinked
project on the same machine keeps working offline. Real PostgreSQL, real ``aml server``."""
from __future__ import annotations

import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from aml_magic.domain.config import init_project
from aml_magic.domain.teamdb import SCHEMA_VERSION, connect
from aml_magic.domain.teamdb.migrations import MIGRATIONS, migrate
from tests.fixtures.postgres import PostgresServer
from tests.team.conftest import aml, member_env, start_server
from tests.team.test_server import one_error_line

pytestmark = pytest.mark.postgres

SCRIPT = "import sys\nprint('offline run', flush=True)\nsys.exit(4)\n"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def aml_in(home: Path, cwd: Path, *args: str, stdin: str | None = None
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aml_magic", *args], env=member_env(home),
                          cwd=cwd, input=stdin, capture_output=True, text=True, timeout=120)


def test_the_database_unreachable_at_init_and_start_hides_its_password(tmp_path: Path) -> None:
    url = f"postgresql://ada:s3cret-pw@127.0.0.1:{closed_port()}/aml"
    for verb in (["start", "--port", "0"],
                 ["init", "--admin", "ada", "--token-file", str(tmp_path / "t")]):
        line = one_error_line(aml(tmp_path, "server", verb[0], "--database", url, "--artifacts",
                                  str(tmp_path / "a"), *verb[1:]))
        assert "database unreachable" in line and "s3cret-pw" not in line, line
    assert not (tmp_path / "t").exists()


def test_a_schema_too_old_names_the_migration_and_migrate_fixes_it(
        postgres: PostgresServer, tmp_path: Path) -> None:
    database = postgres.create_database()
    # Given a workspace database one migration behind this aml_magic
    with connect(database) as conn:
        migrate(conn, target=SCHEMA_VERSION - 1)
    # When the server starts on it, it refuses in one line naming the migration to run
    line = one_error_line(aml(tmp_path, "server", "start", "--database", database,
                              "--artifacts", str(tmp_path / "a"), "--port", "0"))
    assert f"schema version {SCHEMA_VERSION - 1} is older" in line
    assert "aml server migrate --database URL" in line
    assert f"migration {SCHEMA_VERSION}: {MIGRATIONS[-1][0]}" in line
    # Then `aml server migrate` applies it, and the server starts and answers
    key = tmp_path / "server.key"
    migrated = aml(tmp_path, "server", "migrate", "--database", database, "--key-file", str(key))
    assert migrated.returncode == 0, migrated.stderr
    assert f"applied migrations {SCHEMA_VERSION}" in migrated.stdout, migrated.stdout
    proc, url = start_server(database, tmp_path / "a", tmp_path / "out", tmp_path,
                             "--key-file", str(key))
    try:
        with urllib.request.urlopen(url + "/health", timeout=30) as answer:
            assert answer.status == 200
    finally:
        proc.terminate()
        assert proc.wait(60) == 0


def test_a_linked_project_with_a_bad_token_or_no_server_and_an_offline_one(
        postgres: PostgresServer, tmp_path: Path) -> None:
    database = postgres.create_database()
    ada, bob = tmp_path / "ada", tmp_path / "bob"
    for home in (ada, bob):
        home.mkdir()
    assert aml(ada, "server", "init", "--database", database, "--artifacts",
               str(tmp_path / "a"), "--admin", "ada", "--token-file",
               str(ada / "t")).returncode == 0
    proc, url = start_server(database, tmp_path / "a", tmp_path / "out", ada)
    try:
        assert aml(ada, "workspace", "login", url, "--token-stdin",
                   stdin=(ada / "t").read_text()).returncode == 0

        def new_token() -> None:
            added = aml(ada, "workspace", "member", "add", "bob", "--role", "contributor",
                        "--token-file", str(bob / "t"))
            assert added.returncode == 0, added.stderr
            login = aml(bob, "workspace", "login", url, "--token-stdin",
                        stdin=(bob / "t").read_text())
            assert login.returncode == 0, login.stderr
            (bob / "t").unlink()
        new_token()
        linked, offline = init_project(bob / "linked"), init_project(bob / "offline")
        for project in (linked, offline):
            (project / "t.py").write_text(SCRIPT)
        assert aml_in(bob, linked, "workspace", "link", url).returncode == 0
        first = aml_in(bob, linked, "experiment", "submit", "-c", "local", "t.py", "--wait")
        assert first.returncode == 4 and "offline run" in first.stdout, first.stderr
        assert aml_in(bob, linked, "run", "list").returncode == 0
        # When bob's token has expired: his linked project's verbs say so in one line
        with connect(database, autocommit=True) as conn:
            conn.execute("UPDATE tokens SET expires_at = now() - interval '1 hour' "
                         "WHERE member = 'bob'")
        for verb in (["run", "list"], ["experiment", "submit", "-c", "local", "t.py"]):
            line = one_error_line(aml_in(bob, linked, *verb))
            assert "not authenticated (401): token expired on" in line, line
        # And when it is revoked
        new_token()
        assert aml(ada, "workspace", "token", "revoke", "bob").returncode == 0
        for verb in (["run", "list"], ["experiment", "submit", "-c", "local", "t.py"]):
            line = one_error_line(aml_in(bob, linked, *verb))
            assert "not authenticated (401)" in line and "revoked" in line, line
        new_token()
        assert aml_in(bob, linked, "run", "list").returncode == 0
    finally:
        proc.terminate()
        assert proc.wait(60) == 0
    # When the server is gone: the linked project's verbs are one line each
    for verb in (["run", "list"], ["experiment", "submit", "-c", "local", "t.py", "--wait"]):
        line = one_error_line(aml_in(bob, linked, *verb))
        assert f"workspace server unreachable at {url}" in line, line
        assert "personal projects keep working offline" in line
    assert not (linked / ".aml" / "runs").exists() or not any((linked / ".aml" / "runs")
                                                               .iterdir())
    # But the unlinked project on the same machine submits and lists as before, offline
    run = aml_in(bob, offline, "experiment", "submit", "-c", "local", "t.py", "--wait")
    assert run.returncode == 4 and "offline run" in run.stdout, (run.stdout, run.stderr)
    listed = aml_in(bob, offline, "run", "list")
    assert listed.returncode == 0 and "offline" in listed.stdout, listed.stdout
