"""The shared run history in PostgreSQL, against a real ``aml server`` on a real PostgreSQL and
members with their own tokens: runs submitted through the server are recorded with their owner
and mirrored (transitions, metrics, outputs) as they go; a server killed with SIGKILL mid-run
picks the run up again on restart; concurrent submits are all recorded; readers download other
members' outputs but cannot submit or cancel; listings sort by a metric and page by keyset."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from aml_magic.domain.teamdb import connect
from tests._wait import process_alive, wait_until
from tests.fixtures.postgres import PostgresServer
from tests.team.conftest import TeamServer, aml, start_server
from tests.team.test_server import http, members
from tests.team.test_team_rules import add_member

pytestmark = pytest.mark.postgres
__all__ = ["members"]          # the fixture, shared with test_server.py

#: Prints half its log, waits for a go file (created by the test), prints the rest, logs a
#: metric at three steps and writes an output.
SCRIPT = """\
import json, os, pathlib, sys, time
for i in range(50):
    print(f"line {i:03d}", flush=True)
go = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1] else None
while go is not None and not go.exists():
    time.sleep(0.05)
for i in range(50, 100):
    print(f"line {i:03d}", flush=True)
with open(os.environ["AML_MAGIC_METRICS_FILE"], "a") as metrics:
    for step, loss in enumerate((0.9, 0.5, float(sys.argv[2]) if len(sys.argv) > 2 else 0.1)):
        metrics.write(json.dumps({"name": "loss", "value": loss, "step": step,
                                  "time": time.time()}) + "\\n")
pathlib.Path("outputs").mkdir(exist_ok=True)
pathlib.Path("outputs/result.txt").write_text("result of " + os.environ.get("AML_RUN_ID", "?"))
"""
LINES = [f"line {i:03d}" for i in range(100)]


def make_project(artifacts: Path, name: str) -> None:
    from aml_magic.domain.config import init_project
    project = init_project(artifacts / "projects" / name)
    (project / "work.py").write_text(SCRIPT)


def submit(server: TeamServer, token: str, project: str, *arguments: str) -> str:
    status, run = http(server, f"/aml/api/runs?project={project}", token, "POST",
                       {"run_configuration": "local", "script": f"{project}/work.py",
                        "arguments": list(arguments)})
    assert status == 201, run
    return str(run["run_id"])


def pg_run(database: str, run_id: str) -> dict[str, Any] | None:
    with connect(database) as conn:
        row = conn.execute("SELECT status, owner, project FROM runs WHERE run_id = %s",
                           (run_id,)).fetchone()
    return None if row is None else {"status": row[0], "owner": row[1], "project": row[2]}


def pg_status(database: str, run_id: str) -> str | None:
    run = pg_run(database, run_id)
    return None if run is None else str(run["status"])


def whole_log(server: TeamServer, token: str, project: str, run_id: str) -> str:
    """The run's log read through the API from byte 0 until it says it is complete."""
    text, offset = "", 0
    for _ in range(10_000):
        status, chunk = http(server, f"/aml/api/runs/{run_id}/log?project={project}"
                                     f"&offset={offset}", token)
        assert status == 200, chunk
        text += chunk["text"]
        if chunk["complete"]:
            return text
        if chunk["next_offset"] == offset:
            raise AssertionError(f"log of {run_id} stopped at {offset} bytes, not complete")
        offset = chunk["next_offset"]
    raise AssertionError("log never complete")


def test_a_submit_is_recorded_and_mirrored_and_a_reader_downloads_its_output(
        team_server: TeamServer, members: dict[str, str], tmp_path: Path) -> None:
    make_project(team_server.artifacts, "shared")
    go = tmp_path / "go"
    # Given bob submits a run through the server
    run_id = submit(team_server, members["bob"], "shared", str(go), "0.25")
    # Then PostgreSQL has it, owned by bob, before it ends (written before the 201)
    first = pg_run(team_server.database, run_id)
    assert first is not None and first["owner"] == "bob" and first["project"] == "shared"
    # And its status changes are mirrored as the server observes them
    wait_until(lambda: pg_status(team_server.database, run_id) == "Running", 60,
               f"{run_id} Running in PostgreSQL", interval=0.1)
    # And rex, a reader, follows its live log while it runs (the first 50 lines, not complete)
    def live_log() -> str:
        status, chunk = http(team_server, f"/aml/api/runs/{run_id}/log?project=shared",
                             members["rex"])
        assert status == 200 and not chunk["complete"], chunk
        return str(chunk["text"])
    wait_until(lambda: "line 049" in live_log(), 60, "rex sees the live log", interval=0.1)
    # And a reader cannot submit, nor cancel bob's run (403, one line each)
    status, answer = http(team_server, "/aml/api/runs?project=shared", members["rex"], "POST",
                          {"run_configuration": "local", "script": "shared/work.py"})
    assert status == 403 and "needs the contributor role" in answer["message"]
    status, answer = http(team_server, f"/aml/api/runs/{run_id}/cancel?project=shared",
                          members["rex"], "POST", {})
    assert status == 403 and "\n" not in answer["message"]
    go.touch()
    wait_until(lambda: pg_status(team_server.database, run_id) == "Completed", 120,
               f"{run_id} Completed in PostgreSQL", interval=0.1)
    with connect(team_server.database) as conn:
        transitions = [r[0] for r in conn.execute(
            "SELECT status FROM transitions WHERE run_id = %s ORDER BY id", (run_id,))]
        metrics = conn.execute("SELECT step, value FROM metrics WHERE run_id = %s AND "
                               "name = 'loss' ORDER BY step", (run_id,)).fetchall()
        artifacts = [r[0] for r in conn.execute("SELECT path FROM artifacts WHERE run_id = %s",
                                                (run_id,))]
    assert transitions[-1] == "Completed" and "Running" in transitions
    assert metrics == [(0, 0.9), (1, 0.5), (2, 0.25)]
    assert any(path.endswith("result.txt") for path in artifacts), artifacts
    # And the shared listing shows it, owner and all, sorted by its latest loss
    page = http(team_server, "/aml/api/workspace/runs?sort=metric:loss&order=asc",
                members["rex"])[1]
    assert run_id in page["values"] and page["values"][run_id] == 0.25
    assert next(r for r in page["runs"] if r["run_id"] == run_id)["owner"] == "bob"
    status, answer = http(team_server, "/aml/api/workspace/runs?sort=loss", members["rex"])
    assert status == 400 and "'sort' must be" in answer["message"]
    # And rex reads its metrics and its whole log through the API
    status, metric_rows = http(team_server, f"/aml/api/runs/{run_id}/metrics?project=shared",
                               members["rex"])
    assert status == 200, metric_rows
    assert [(m["step"], m["value"]) for m in metric_rows["metrics"] if m["name"] == "loss"] \
        == [(0, 0.9), (1, 0.5), (2, 0.25)]
    assert whole_log(team_server, members["rex"], "shared", run_id).splitlines()[:100] == LINES
    # When rex (a reader) downloads bob's output through the API
    outputs = http(team_server, f"/aml/api/runs/{run_id}/outputs?project=shared",
                   members["rex"])[1]["outputs"]
    name = next(o["path"] for o in outputs if o["path"].endswith("result.txt"))
    import urllib.request
    request = urllib.request.Request(
        f"{team_server.url}/aml/api/runs/{run_id}/outputs/{name}?project=shared",
        headers={"Authorization": f"Bearer {members['rex']}"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 200 and answer.read().decode().startswith("result of ")
    # And without a token it is 401
    assert http(team_server, f"/aml/api/runs/{run_id}/outputs?project=shared")[0] == 401


def test_concurrent_submits_from_three_members_are_all_recorded(
        team_server: TeamServer, members: dict[str, str]) -> None:
    make_project(team_server.artifacts, "busy")
    tokens = {"ada": members["ada"], "bob": members["bob"],
              "cal": add_member(team_server, "cal", "contributor")}
    submitted: dict[str, str] = {}
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(tokens))

    def member(name: str) -> None:
        try:
            barrier.wait(30)
            for n in range(3):
                run_id = submit(team_server, tokens[name], "busy", "", str(n))
                with lock:
                    submitted[run_id] = name
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    # When ada, bob and cal each submit three runs at the same time
    threads = [threading.Thread(target=member, args=(name,)) for name in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert not errors, errors
    assert len(submitted) == 9
    # Then all nine are in PostgreSQL with the right owners, and all end Completed there

    def ended() -> dict[str, tuple[str, str]] | None:
        with connect(team_server.database) as conn:
            rows = conn.execute("SELECT run_id, owner, status FROM runs WHERE run_id = ANY(%s)",
                                (list(submitted),)).fetchall()
        found = {r: (o, s) for r, o, s in rows}
        return found if all(s == "Completed" for _, s in found.values()) and \
            len(found) == 9 else None
    found = wait_until(ended, 240, "nine runs Completed in PostgreSQL", interval=0.2)
    assert {r: o for r, (o, _) in found.items()} == submitted
    with connect(team_server.database) as conn:
        owners = dict(conn.execute("SELECT run_id, owner FROM run_owners WHERE run_id = ANY(%s)",
                                   (list(submitted),)).fetchall())
    assert owners == submitted
    # And rex (a reader) pages through them with `aml workspace runs`, following "next page"
    seen: list[str] = []
    flags = ["--limit", "4", "--sort", "metric:loss", "--order", "asc"]
    for _ in range(10):
        listed = aml(team_server.homes["rex"], "workspace", "runs", *flags)
        assert listed.returncode == 0, listed.stderr
        lines = listed.stdout.strip().splitlines()
        assert lines[0].split() == ["RUN", "ID", "OWNER", "STATUS", "TARGET", "CREATED", "LOSS"]
        seen += [line.split()[0] for line in lines[1:] if not line.startswith("next page:")]
        if not lines[-1].startswith("next page: aml workspace runs "):
            break
        flags = lines[-1].removeprefix("next page: aml workspace runs ").split()
    mine = [r for r in seen if r in submitted]
    assert sorted(mine) == sorted(submitted) and len(seen) == len(set(seen))


def test_kill_9_mid_run_then_restart_ends_completed_with_its_whole_log(
        postgres: PostgresServer, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    database = postgres.create_database()
    artifacts = tmp_path / "artifacts"
    token_file = tmp_path / "ada.token"
    init = aml(home, "server", "init", "--database", database, "--artifacts", str(artifacts),
               "--admin", "ada", "--token-file", str(token_file))
    assert init.returncode == 0, init.stderr
    token = token_file.read_text().strip()
    make_project(artifacts, "resume")
    go = tmp_path / "go"
    proc, url = start_server(database, artifacts, tmp_path / "first.out", home)
    server = TeamServer(url, database, artifacts, proc, tmp_path / "first.out")
    second: TeamServer | None = None
    try:
        # Given two runs going through the server, half their logs written
        run_ids = [submit(server, token, "resume", str(go)) for _ in range(2)]
        for run_id in run_ids:
            wait_until(lambda run_id=run_id: "line 049" in http(server, f"/aml/api/runs/{run_id}/log?"
                                                          f"project=resume&offset=0",
                                                  token)[1]["text"],
                       60, "the first half of the log", interval=0.1)
            wait_until(lambda run_id=run_id: pg_status(database, run_id) == "Running", 60,
                       f"{run_id} Running in PostgreSQL", interval=0.1)
        # When the server is killed with SIGKILL (no chance to clean up)
        proc.kill()
        proc.wait(30)
        wait_until(lambda: not process_alive(proc.pid), 30, "the server gone")
        # (and the second run's row is lost, as if the kill came between the journal and
        # PostgreSQL: only the owner's row is left)
        with connect(database, autocommit=True) as conn:
            conn.execute("DELETE FROM runs WHERE run_id = %s", (run_ids[1],))
        # And the run goes on without it and finishes; then the server starts again
        go.touch()
        proc2, url2 = start_server(database, artifacts, tmp_path / "second.out", home)
        second = TeamServer(url2, database, artifacts, proc2, tmp_path / "second.out")
        assert "1 project(s) with runs going" in (tmp_path / "second.out").read_text()
        # Then both runs end Completed in PostgreSQL, with no request asking for them
        for run_id in run_ids:
            wait_until(lambda run_id=run_id: pg_status(database, run_id) == "Completed", 120,
                       f"{run_id} Completed in PostgreSQL after the restart", interval=0.1)
            # And the whole log is readable through the API, every line once and in order
            log = whole_log(second, token, "resume", run_id)
            assert [line for line in log.splitlines() if line.startswith("line ")] == LINES
        page = http(second, "/aml/api/workspace/runs", token)[1]
        assert sorted((r["run_id"], r["status"], r["owner"]) for r in page["runs"]) == \
            sorted((run_id, "Completed", "ada") for run_id in run_ids)
        with connect(database) as conn:
            transitions = conn.execute("SELECT status FROM transitions WHERE run_id = %s "
                                       "ORDER BY id", (run_ids[1],)).fetchall()
        assert [t[0] for t in transitions][-1] == "Completed" and ("Running",) in transitions
    finally:
        go.touch()
        for running in (server, second):
            if running is not None and running.proc.poll() is None:
                running.stop()
