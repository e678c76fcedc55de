"""The team server's blob store against a real ``aml server`` on a real PostgreSQL: an upload
is streamed to disk while it is hashed (a body that hashes to another sha leaves no file at
all, a reader's upload writes nothing), and ``aml server gc`` removes the blobs nothing refers
to while the current snapshots', the pushed outputs' and the fresh ones stay."""
from __future__ import annotations

import hashlib
from http.client import HTTPConnection
import os
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.team.conftest import TeamServer, aml
from tests.team.test_pushed_outputs import MODEL, NOTES, history_with_outputs
from tests.team.test_server import http, members

pytestmark = pytest.mark.postgres
__all__ = ["members"]          # the fixture, shared with test_server.py

BLOCK = 64 * 1024


def put_blob(server: TeamServer, sha: str, token: str, blocks: list[bytes],
             length: int | None = None) -> tuple[int, bytes]:
    """PUT workspace/blobs/SHA with the body sent a block at a time (Content-Length given)."""
    where = urlsplit(server.url)
    conn = HTTPConnection(where.hostname or "127.0.0.1", where.port, timeout=60)
    try:
        conn.putrequest("PUT", f"/aml/api/workspace/blobs/{sha}")
        conn.putheader("Authorization", f"Bearer {token}")
        conn.putheader("Content-Length", str(sum(map(len, blocks)) if length is None
                                             else length))
        conn.endheaders()
        try:
            for block in blocks:
                conn.send(block)
        except (BrokenPipeError, ConnectionResetError):
            pass                     # refused before the body: the answer says why
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def leftovers(server: TeamServer, sha: str) -> list[str]:
    """Files of the blob SHA's folder that belong to SHA: the blob or an upload of it."""
    shard = server.artifacts / "blobs" / sha[:2]
    return sorted(p.name for p in shard.iterdir() if sha[2:] in p.name) if shard.is_dir() \
        else []


def test_an_upload_is_streamed_and_a_refused_one_leaves_no_file(
        team_server: TeamServer, members: dict[str, str]) -> None:
    data = os.urandom(3 * 2**20 + 17)
    sha = hashlib.sha256(data).hexdigest()
    blocks = [data[i:i + BLOCK] for i in range(0, len(data), BLOCK)]
    # Given a body that hashes to another sha, sent a block at a time
    wrong = hashlib.sha256(b"not these bytes").hexdigest()
    status, body = put_blob(team_server, wrong, members["bob"], blocks)
    # Then it is refused in one line and nothing of it is kept (no blob, no temporary file)
    assert status == 400 and b"hashes to" in body and b"\\n" not in body, body
    assert leftovers(team_server, wrong) == []
    # And a reader's upload is refused before its body is written; no token is a 401
    assert put_blob(team_server, sha, members["rex"], blocks)[0] == 403
    assert put_blob(team_server, sha, "", blocks)[0] == 401
    assert leftovers(team_server, sha) == []
    # And a body over the limit is refused from its Content-Length, in one line
    status, body = put_blob(team_server, sha, members["bob"], [b"x"], length=101 * 2**20)
    assert status == 413 and b"at most 100 MiB" in body, body
    assert leftovers(team_server, sha) == []
    # When the right body comes a block at a time, it is kept whole, read-only; again is a 200
    assert put_blob(team_server, sha, members["bob"], blocks)[0] == 201
    kept = team_server.artifacts / "blobs" / sha[:2] / sha[2:]
    assert kept.read_bytes() == data and kept.stat().st_mode & 0o777 == 0o444
    assert leftovers(team_server, sha) == [sha[2:]]
    assert put_blob(team_server, sha, members["bob"], blocks)[0] == 200
    assert http(team_server, "/aml/api/workspace/blobs/missing", members["bob"], "POST",
                {"hashes": [sha, wrong]}) == (200, {"missing": [wrong]})


def upload(server: TeamServer, token: str, data: bytes) -> str:
    sha = hashlib.sha256(data).hexdigest()
    assert put_blob(server, sha, token, [data])[0] in (200, 201)
    return sha


def age(server: TeamServer, sha: str, hours: float) -> Path:
    path = server.artifacts / "blobs" / sha[:2] / sha[2:]
    then = time.time() - hours * 3600
    os.utime(path, (then, then))
    return path


def gc(server: TeamServer, *extra: str) -> str:
    done = aml(server.homes["server"], "server", "gc", "--database", server.database,
               "--artifacts", str(server.artifacts), *extra)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stdout
    return lines[0]


def test_gc_removes_only_old_blobs_nothing_refers_to(
        team_server: TeamServer, members: dict[str, str]) -> None:
    bob = members["bob"]
    # Given a server project's current snapshot (two blobs), and the previous one's file
    old_file = upload(team_server, bob, b"print('the first version')\n")
    status, _ = http(team_server, "/aml/api/workspace/projects/gcdemo/snapshot", bob, "POST",
                     {"files": {"train.py": {"sha256": old_file, "mode": 0o644}}})
    assert status == 200
    current = [upload(team_server, bob, b"print('the second version')\n"),
               upload(team_server, bob, b"HELPER = 2\n")]
    status, _ = http(team_server, "/aml/api/workspace/projects/gcdemo/snapshot", bob, "POST",
                     {"files": {"train.py": {"sha256": current[0], "mode": 0o644},
                                "helper.py": {"sha256": current[1], "mode": 0o644}}})
    assert status == 200
    # And the outputs of a pushed history (MODEL and NOTES)
    history_with_outputs(team_server.homes["bob"] / "gc-outs")
    pushed = aml(team_server.homes["bob"], "history", "push", "--project",
                 str(team_server.homes["bob"] / "gc-outs"))
    assert pushed.returncode == 0, pushed.stderr
    outputs = [hashlib.sha256(MODEL).hexdigest(), hashlib.sha256(NOTES).hexdigest()]
    # And a blob nothing refers to, a fresh upload not submitted yet, one a member was just
    # told is there (blobs/missing), and an upload abandoned mid-body
    orphan = upload(team_server, bob, b"an orphan, two hours old\n")
    fresh = upload(team_server, bob, b"uploaded a minute ago, its submit to come\n")
    asked = upload(team_server, bob, b"reported present to a member just now\n")
    for sha in (*current, *outputs, old_file, orphan, asked):
        age(team_server, sha, 2)
    assert http(team_server, "/aml/api/workspace/blobs/missing", bob, "POST",
                {"hashes": [asked]}) == (200, {"missing": []})
    abandoned = team_server.artifacts / "blobs" / orphan[:2] / f".{orphan[2:]}.x1y2.tmp"
    abandoned.write_bytes(b"half an upl")
    then = time.time() - 7200
    os.utime(abandoned, (then, then))
    removed = (team_server.artifacts / "blobs" / old_file[:2] / old_file[2:]).stat().st_size + \
        (team_server.artifacts / "blobs" / orphan[:2] / orphan[2:]).stat().st_size + 11
    # When gc runs dry: it counts and removes nothing
    line = gc(team_server, "--dry-run")
    assert line.startswith("aml server gc: would remove 2 blob(s) and 1 abandoned upload(s), "
                           f"{removed} bytes to free"), line
    assert abandoned.exists() and leftovers(team_server, orphan) != []
    # When gc runs: the old blob of the previous snapshot, the orphan and the abandoned upload go
    line = gc(team_server)
    assert line.startswith(f"aml server gc: removed 2 blob(s) and 1 abandoned upload(s), "
                           f"{removed} bytes freed; kept "), line
    assert leftovers(team_server, orphan) == [] and leftovers(team_server, old_file) == []
    # And the current snapshot's, the pushed outputs', the fresh and the asked-about stay
    for sha in (*current, *outputs, fresh, asked):
        assert leftovers(team_server, sha) == [sha[2:]], sha
    assert http(team_server, "/aml/api/workspace/blobs/missing", bob, "POST",
                {"hashes": [*current, *outputs, fresh, asked, orphan]}) == \
        (200, {"missing": [orphan]})
    # And a grace shorter than the refresh of a blob reported present is one line
    short = aml(team_server.homes["server"], "server", "gc", "--database", team_server.database,
                "--artifacts", str(team_server.artifacts), "--grace", "1")
    assert short.returncode != 0 and "--grace must be at least" in short.stderr
    assert len(short.stderr.strip().splitlines()) == 1, short.stderr
