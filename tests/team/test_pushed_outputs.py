"""The outputs of pushed runs and the delete of a server's run, against a real ``aml server``
on a real PostgreSQL with members in their own HOME folders: ``aml history push`` sends the
runs' output files content-addressed (a second push sends none), a reader downloads them
through the API after the member's own copy is gone (the server never reads a member's disk),
and ``DELETE runs/ID?project=`` removes a run from the shared history too, audited."""
from __future__ import annotations

import hashlib
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from aml_magic.domain.teamdb import connect
from tests._wait import wait_until
from tests.team.conftest import TeamServer, aml
from tests.team.test_server import http, members
from tests.team.test_shared_history import make_project, pg_status, submit

pytestmark = pytest.mark.postgres
__all__ = ["members"]          # the fixture, shared with test_server.py

MODEL = b"\x00model weights\xff" * 4096
NOTES = b"notes of the run\n"


def history_with_outputs(root: Path) -> list[str]:
    """Two completed runs: both wrote ``model.bin`` (the same bytes: one blob), the first also
    ``notes/a.txt``; the second's ``gone.txt`` is indexed but its file was pruned."""
    from aml_magic.domain.config import init_project
    from aml_magic.domain.history import Artifact, RunRecord, RunStatus, RunStore
    from aml_magic.domain.history.records import new_run_id
    init_project(root)
    ids = []
    with RunStore(root) as store:
        for index, files in enumerate(({"model.bin": MODEL, "notes/a.txt": NOTES},
                                       {"model.bin": MODEL})):
            record = RunRecord(run_id=new_run_id("outs", now=1_710_000_000 + index),
                               project="outs", target="local",
                               created_at=1_710_000_000 + index, command=["python", "t.py"])
            store.create_run(record, submitter=False, then=RunStatus.RUNNING)
            store.set_status(record.run_id, RunStatus.COMPLETED)
            artifacts = []
            for rel, data in files.items():
                path = store.run_dir(record.run_id) / "outputs" / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                artifacts.append(Artifact(rel, len(data), hashlib.sha256(data).hexdigest()))
            if index == 1:
                artifacts.append(Artifact("gone.txt", 3, hashlib.sha256(b"old").hexdigest()))
            store.set_artifacts(record.run_id, artifacts)
            ids.append(record.run_id)
    return ids


def download(server: TeamServer, path: str, token: str) -> tuple[int, bytes]:
    request = urllib.request.Request(server.url + path,
                                     headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_pushed_outputs_go_up_once_and_readers_download_them(
        team_server: TeamServer, members: dict[str, str]) -> None:
    homes = team_server.homes
    project = homes["bob"] / "outs"
    first_run, second_run = history_with_outputs(project)
    # When bob pushes his history: two distinct blobs go up, the pruned output is left out
    first = aml(homes["bob"], "history", "push", "--project", str(project))
    assert first.returncode == 0, first.stderr
    assert (f"2 output file(s) sent ({len(MODEL) + len(NOTES)} bytes)" in first.stdout), \
        first.stdout
    assert "1 output(s) left out" in first.stdout
    # And pushing again sends nothing new
    again = aml(homes["bob"], "history", "push", "--project", str(project))
    assert again.returncode == 0, again.stderr
    assert "0 output file(s) sent (0 bytes)" in again.stdout and "left out" in again.stdout
    # Then, bob's machine gone, rex (a reader) lists and downloads them through the API
    shutil.rmtree(project)
    status, listing = http(team_server, f"/aml/api/workspace/runs/{second_run}/artifacts",
                           members["rex"])
    assert status == 200
    assert {a["path"]: a["stored"] for a in listing["artifacts"]} == \
        {"model.bin": True, "gone.txt": False}
    assert download(team_server, f"/aml/api/workspace/runs/{first_run}/artifacts/notes/a.txt",
                    members["rex"]) == (200, NOTES)
    assert download(team_server, f"/aml/api/workspace/runs/{second_run}/artifacts/model.bin",
                    members["rex"]) == (200, MODEL)
    # But an output pushed without its file, or none at all, is a one-line 404
    for name in ("gone.txt", "nothere.bin"):
        status, body = download(
            team_server, f"/aml/api/workspace/runs/{second_run}/artifacts/{name}",
            members["rex"])
        assert status == 404 and b"\\n" not in body.strip(), body
    assert b"pushed without its file" in download(
        team_server, f"/aml/api/workspace/runs/{second_run}/artifacts/gone.txt",
        members["rex"])[1]
    assert http(team_server, "/aml/api/workspace/runs/nosuch_run_1/artifacts",
                members["rex"])[0] == 404
    # And without a token it is 401
    assert http(team_server, f"/aml/api/workspace/runs/{first_run}/artifacts")[0] == 401


def test_a_server_runs_outputs_through_the_shared_route(
        team_server: TeamServer, members: dict[str, str]) -> None:
    make_project(team_server.artifacts, "shout")
    run_id = submit(team_server, members["bob"], "shout", "", "0.3")
    wait_until(lambda: pg_status(team_server.database, run_id) == "Completed", 120,
               f"{run_id} Completed in PostgreSQL", interval=0.1)
    status, listing = http(team_server, f"/aml/api/workspace/runs/{run_id}/artifacts",
                           members["rex"])
    assert status == 200
    name = next(a["path"] for a in listing["artifacts"] if a["path"].endswith("result.txt"))
    status, data = download(team_server, f"/aml/api/workspace/runs/{run_id}/artifacts/{name}",
                            members["rex"])
    assert status == 200 and data.decode().startswith("result of ")


def audited(database: str, run_id: str) -> list[tuple[str, str]]:
    with connect(database) as conn:
        return [(str(a), str(b)) for a, b in conn.execute(
            "SELECT actor, action FROM audit_log WHERE subject = %s ORDER BY id", (run_id,))]


def test_a_deleted_run_leaves_the_shared_history_audited(
        team_server: TeamServer, members: dict[str, str], tmp_path: Path) -> None:
    make_project(team_server.artifacts, "dele")
    go = tmp_path / "go"
    run_id = submit(team_server, members["bob"], "dele", str(go), "0.2")
    route = f"/aml/api/runs/{run_id}?project=dele"
    # A run still going is refused (409), as on a personal project
    wait_until(lambda: pg_status(team_server.database, run_id) is not None, 30, "recorded")
    status, answer = http(team_server, route, members["bob"], "DELETE")
    assert status == 409 and "cancel it first" in answer["message"]
    go.touch()
    wait_until(lambda: pg_status(team_server.database, run_id) == "Completed", 120,
               f"{run_id} Completed in PostgreSQL", interval=0.1)
    # A reader may not delete it, nor a contributor who does not own it
    status, answer = http(team_server, route, members["rex"], "DELETE")
    assert status == 403 and "contributors delete only their own runs" in answer["message"]
    status, carl = http(team_server, "/aml/api/members", members["ada"], "POST",
                        {"name": "carl", "role": "contributor"})
    assert status == 201
    status, answer = http(team_server, route, carl["token"], "DELETE")
    assert status == 403 and "may delete only their own runs" in answer["message"]
    assert pg_status(team_server.database, run_id) == "Completed"
    # When its owner deletes it
    assert http(team_server, route, members["bob"], "DELETE")[0] == 204
    # Then it is gone from the journal, PostgreSQL (with its metrics) and the owners, audited
    assert http(team_server, route, members["bob"])[0] == 404
    with connect(team_server.database) as conn:
        for table in ("runs", "metrics", "transitions", "artifacts", "run_owners"):
            count = conn.execute(f"SELECT count(*) FROM {table} WHERE run_id = %s",
                                 (run_id,)).fetchone()
            assert count == (0,), table
    assert audited(team_server.database, run_id) == [("bob", "run.delete")]
    listed = http(team_server, "/aml/api/workspace/runs?limit=200", members["rex"])[1]
    assert run_id not in {r["run_id"] for r in listed["runs"]}
    # And it is not mirrored back by the next passes
    other = submit(team_server, members["bob"], "dele", "", "0.1")
    wait_until(lambda: pg_status(team_server.database, other) == "Completed", 120,
               f"{other} Completed", interval=0.1)
    assert pg_status(team_server.database, run_id) is None


def test_a_pushed_index_never_names_a_file_of_the_server(
        team_server: TeamServer, members: dict[str, str]) -> None:
    # Given bob pushes a run whose artifact index holds a path where a hash belongs
    run = {"record": {"run_id": "evil_1710000000_0001", "project": "p", "target": "local",
                      "target_type": "local", "status": "Completed", "created_at": 1.0,
                      "kind": "script"},
           "artifacts": [["passwd", 10, "../../../../../../../etc/passwd"],
                         ["abs", 10, "//etc/passwd"]]}
    status, answer = http(team_server, "/aml/api/workspace/runs", members["bob"], "POST",
                          {"runs": [run]})
    assert status == 200, answer
    # Then neither is served, nor shown as stored
    listing = http(team_server, "/aml/api/workspace/runs/evil_1710000000_0001/artifacts",
                   members["rex"])[1]
    assert [a["stored"] for a in listing["artifacts"]] == [False, False]
    for name in ("passwd", "abs"):
        status, body = download(
            team_server, f"/aml/api/workspace/runs/evil_1710000000_0001/artifacts/{name}",
            members["rex"])
        assert status == 404 and b"root:" not in body
