"""A linked sweep's driver runs inside the team server; a server killed with SIGKILL while a
child runs loses nothing: on restart the server takes the sweep over again, the running child
ends with its whole log, the children not started yet run, and the parent ends Completed, in
the project's journal, in PostgreSQL and in ``aml run list`` (a real ``aml server`` on a real
PostgreSQL, bob on his own machine)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests._wait import process_alive, wait_until
from tests.fixtures.postgres import PostgresServer
from tests.team.conftest import TeamServer, aml, start_server
from tests.team.test_team_submit import aml_in, linked_project
from tests.team.test_team_submit_options import shared_rows

pytestmark = pytest.mark.postgres

#: Half its log, then waits for the go file the sweep's arguments name, then the rest.
CHILD = """\
import pathlib, sys, time
go, n = pathlib.Path(sys.argv[1]), sys.argv[3]
for i in range(20):
    print(f"child {n} line {i:02d}", flush=True)
while not go.exists():
    time.sleep(0.05)
for i in range(20, 40):
    print(f"child {n} line {i:02d}", flush=True)
"""


def test_kill_9_mid_sweep_then_restart_resumes_the_sweep(postgres: PostgresServer,
                                                          tmp_path: Path) -> None:
    homes = {name: tmp_path / f"home-{name}" for name in ("server", "ada", "bob")}
    for home in homes.values():
        home.mkdir()
    database = postgres.create_database()
    artifacts = tmp_path / "artifacts"
    token_file = homes["ada"] / "ada.token"
    init = aml(homes["server"], "server", "init", "--database", database, "--artifacts",
               str(artifacts), "--admin", "ada", "--token-file", str(token_file))
    assert init.returncode == 0, init.stderr
    proc, url = start_server(database, artifacts, tmp_path / "first.out", homes["server"])
    server = TeamServer(url, database, artifacts, proc, tmp_path / "first.out", homes)
    second: TeamServer | None = None
    go = tmp_path / "go"
    try:
        login = aml(homes["ada"], "workspace", "login", url, "--token-stdin",
                    stdin=token_file.read_text())
        assert login.returncode == 0, login.stderr
        added = aml(homes["ada"], "workspace", "member", "add", "bob", "--role", "contributor",
                    "--token-file", str(homes["bob"] / "bob.token"))
        assert added.returncode == 0, added.stderr
        login = aml(homes["bob"], "workspace", "login", url, "--token-stdin",
                    stdin=(homes["bob"] / "bob.token").read_text())
        assert login.returncode == 0, login.stderr
        root = linked_project(server, "bob", "resumed")
        (root / "child.py").write_text(CHILD)
        # Given bob's sweep of 3 children, one at a time, each waiting for the go file
        started = aml_in(homes["bob"], root, "experiment", "submit", "-c", "local", "-a",
                         "--sweep", "n=1,2,3", "--max-concurrent", "1", "child.py", str(go))
        assert started.returncode == 0, started.stderr
        parent = started.stdout.strip()
        children = [r[0] for r in shared_rows(database, parent) if r[0] != parent]
        runs = artifacts / "projects" / "resumed" / ".aml" / "runs"

        def first_child() -> str | None:
            for child in children:
                log = runs / child / "log.txt"
                if log.exists() and "line 19" in log.read_text():
                    return child
            return None
        running = wait_until(first_child, 60, "a child half-way through its log",
                             interval=0.1)
        # When the server is killed with SIGKILL while that child runs
        proc.kill()
        proc.wait(30)
        wait_until(lambda: not process_alive(proc.pid), 30, "the server gone")
        # And the child finishes while the server is down, then the server starts again
        go.touch()
        log = runs / running / "log.txt"
        wait_until(lambda: "line 39" in log.read_text(), 60, "the child's end, server down",
                   interval=0.1)
        port = url.rsplit(":", 1)[1]      # the same address: bob's link still names it
        proc2, url2 = start_server(database, artifacts, tmp_path / "second.out",
                                   homes["server"], "--port", port)
        assert url2 == url
        second = TeamServer(url2, database, artifacts, proc2, tmp_path / "second.out", homes)
        # Then every child and the parent end Completed in PostgreSQL, with no request
        rows = wait_until(lambda: (r := shared_rows(database, parent)) and len(r) == 4 and
                          all(row[2] == "Completed" for row in r) and r, 120,
                          "the resumed sweep Completed in PostgreSQL", interval=0.2)
        assert {row[1] for row in rows} == {"bob"}
        # And each child ran once, its whole log in order
        for child in children:
            lines = (runs / child / "log.txt").read_text().splitlines()
            number = re.search(r"child (\d)", lines[0]).group(1)  # type: ignore[union-attr]
            assert [line for line in lines if line.startswith("child ")] == \
                [f"child {number} line {i:02d}" for i in range(40)], lines
        # And the sweep's log says it was taken over again
        parent_log = (runs / parent / "log.txt").read_text()
        assert "taken over again after the server restarted" in parent_log, parent_log
        # And bob's run list shows all four Completed
        listed = aml_in(homes["bob"], root, "run", "list", "-o", "json")
        assert listed.returncode == 0, listed.stderr
        statuses = {r["run_id"]: r["status"] for r in json.loads(listed.stdout)}
        assert all(statuses[r] == "Completed" for r in [parent, *children]), statuses
    finally:
        go.touch()
        for running_server in (server, second):
            if running_server is not None and running_server.proc.poll() is None:
                running_server.stop()
