"""``aml project restore`` in a linked project, through a real ``aml server`` on a real
PostgreSQL: the run's snapshot comes from the server (``GET runs/ID/snapshot/manifest`` and
``runs/ID/snapshot/file?path=REL``), byte-exact, for the contributor who submitted it and for a
reader, with the personal verb's checks: nothing outside the destination, nothing through a
link, no overwrite without ``--yes``, one-line errors and nothing half-written."""
from __future__ import annotations

import json
import os
import re
import stat
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from aml_magic.domain.history.manifests import manifest_path
from aml_magic.errors import AmlError
from aml_magic.service.team import snapshot_restore
from aml_magic.service.team.remote import LinkedProject
from tests.team.conftest import TeamServer
from tests.team.test_server import members, one_error_line
from tests.team.test_team_submit import aml_in, linked_project

pytestmark = pytest.mark.postgres
__all__ = ["members"]          # the fixture, shared with test_server.py

SCRIPT = "import sys\nprint('ran', sys.argv[1:], flush=True)\n"
DATA = bytes(range(256)) * 40 + b"\x00\r\n end"


@pytest.fixture(scope="module")
def submitted(team_server: TeamServer, members: dict[str, str]) -> tuple[Path, str]:
    """bob's linked project ``keep`` with one completed run, then edited after it."""
    root = linked_project(team_server, "bob", "keep")
    (root / "run.py").write_text(SCRIPT)
    (root / "tool.sh").write_text("#!/bin/sh\necho tool\n")
    (root / "tool.sh").chmod(0o755)
    (root / "data").mkdir()
    (root / "data" / "blob.bin").write_bytes(DATA)
    ran = aml_in(team_server.homes["bob"], root, "experiment", "submit", "-c", "local",
                 "run.py", "x")
    assert ran.returncode == 0, (ran.stdout, ran.stderr)
    run_id = re.search(r"^run (\S+): Completed", ran.stderr, re.M).group(1)  # type: ignore[union-attr]
    # after the run, bob edits files and adds one
    (root / "run.py").write_text("print('edited')\n")
    (root / "data" / "blob.bin").write_bytes(b"changed")
    (root / "new.txt").write_text("not in the snapshot")
    return root, run_id


def expect_snapshot(folder: Path) -> None:
    assert (folder / "run.py").read_text() == SCRIPT
    assert (folder / "data" / "blob.bin").read_bytes() == DATA
    assert (folder / "tool.sh").read_text() == "#!/bin/sh\necho tool\n"
    assert stat.S_IMODE((folder / "tool.sh").stat().st_mode) == 0o755
    assert stat.S_IMODE((folder / "run.py").stat().st_mode) == 0o644


@pytest.mark.parametrize("member", ["bob", "rex"])
def test_restore_into_a_new_folder_gets_the_files_as_they_were(
        team_server: TeamServer, submitted: tuple[Path, str], member: str,
        tmp_path: Path) -> None:
    root, run_id = submitted
    home = team_server.homes[member]
    here = root if member == "bob" else linked_project(team_server, member, "keep")
    # When the member (rex: a reader, on his own machine) restores the run into a new folder
    out = tmp_path / "restored"
    done = aml_in(home, here, "project", "restore", "-r", run_id, "-d", str(out))
    # Then every file of the snapshot is there as it was submitted, byte for byte
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert f"restored the snapshot of run {run_id} into {out}: " in done.stdout, done.stdout
    expect_snapshot(out)
    assert not (out / "new.txt").exists()
    # and the server's own files (its targets) were left out, and said so
    assert not list((out / "aml_config").glob("*.compute")), list(out.rglob("*"))
    assert not (out / "aml_config" / ".shared-targets.json").exists()
    assert "of the workspace's own" in done.stdout, done.stdout
    # And restoring again writes nothing: every file is already as it was
    again = aml_in(home, here, "project", "restore", "-r", run_id, "-d", str(out))
    assert again.returncode == 0 and " 0 file(s) written" in again.stdout, again.stdout


def test_restore_over_the_project_asks_first_and_then_puts_back_the_edits(
        team_server: TeamServer, submitted: tuple[Path, str]) -> None:
    root, run_id = submitted
    home = team_server.homes["bob"]
    # Without a terminal and without --yes: refused in one line, nothing written
    refused = aml_in(home, root, "project", "restore", "-r", run_id)
    assert refused.returncode == 2, (refused.stdout, refused.stderr)
    assert refused.stderr.strip().count("\n") == 0, refused.stderr
    assert "restore would overwrite 2 file(s)" in refused.stderr, refused.stderr
    assert "--yes" in refused.stderr
    assert (root / "run.py").read_text() == "print('edited')\n"
    assert (root / "data" / "blob.bin").read_bytes() == b"changed"
    # With --yes: the edits are put back; a file not in the snapshot stays
    done = aml_in(home, root, "project", "restore", "-r", run_id, "--yes")
    assert done.returncode == 0, done.stderr
    assert "2 file(s) written" in done.stdout, done.stdout
    expect_snapshot(root)
    assert (root / "new.txt").read_text() == "not in the snapshot"
    assert (root / "aml_config" / "workspace.yml").is_file()


def test_a_link_in_the_destination_is_never_written_through(
        team_server: TeamServer, submitted: tuple[Path, str], tmp_path: Path) -> None:
    root, run_id = submitted
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "data").symlink_to(outside)
    failed = one_error_line(aml_in(team_server.homes["rex"], root, "project", "restore",
                                   "-r", run_id, "-d", str(dest), "--yes"))
    assert "data/blob.bin" in failed and "symbolic link" in failed, failed
    assert "Nothing was written" in failed, failed
    assert list(outside.iterdir()) == [] and sorted(p.name for p in dest.iterdir()) == ["data"]


def test_an_unknown_run_is_one_line(team_server: TeamServer,
                                    submitted: tuple[Path, str], tmp_path: Path) -> None:
    root, _ = submitted
    failed = one_error_line(aml_in(team_server.homes["rex"], root, "project", "restore",
                                   "-r", "no-such-run", "-d", str(tmp_path / "out")))
    assert "no-such-run" in failed, failed
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def get(server: TeamServer, token: str | None, route: str, **query: str) -> tuple[int, bytes]:
    request = urllib.request.Request(f"{server.url}/aml/api/{route}?"
                                     + urlencode({"project": "keep", **query}))
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_the_server_serves_only_what_the_kept_manifest_names(
        team_server: TeamServer, members: dict[str, str], submitted: tuple[Path, str]) -> None:
    _, run_id = submitted
    rex = members["rex"]
    route = f"runs/{run_id}/snapshot/file"
    # A reader gets a file of the snapshot, as it was submitted
    assert get(team_server, rex, route, path="data/blob.bin") == (200, DATA)
    manifest = json.loads(get(team_server, rex, f"runs/{run_id}/snapshot/manifest")[1])
    assert set(manifest["files"]) >= {"run.py", "tool.sh", "data/blob.bin"}
    assert manifest["files"]["tool.sh"]["mode"] == 0o755
    assert not any(rel.endswith(".compute") for rel in manifest["files"])
    assert "aml_config/.shared-targets.json" not in manifest["files"]
    # Paths the manifest does not name, escaping ones and the server's own: 404, one line
    for path in ("../../../../etc/passwd", "/etc/passwd", "new.txt", ".aml/history.db",
                 "aml_config/local.compute", "aml_config/.shared-targets.json", ""):
        status, body = get(team_server, rex, route, path=path)
        assert status == 404, (path, status, body)
        assert "is not a file of run" in json.loads(body)["message"], body
    # No token: 401
    assert get(team_server, None, route, path="run.py")[0] == 401


def test_a_forged_manifest_is_refused_and_nothing_is_written(
        team_server: TeamServer, members: dict[str, str], submitted: tuple[Path, str],
        tmp_path: Path) -> None:
    root, run_id = submitted
    # Given the server's kept manifest of the run rewritten to name a path outside the folder
    manifest = json.loads(get(team_server, members["rex"],
                              f"runs/{run_id}/snapshot/manifest")[1])
    kept = manifest_path(team_server.artifacts / "projects" / "keep" / ".aml",
                         manifest["digest"])
    assert kept is not None and kept.is_file()
    original = kept.read_bytes()
    forged = json.loads(original)
    forged["files"]["../escaped.txt"] = forged["files"]["run.py"]
    kept.write_text(json.dumps(forged))
    try:
        # When rex restores it: one line, nothing written anywhere
        failed = one_error_line(aml_in(team_server.homes["rex"], root, "project", "restore",
                                       "-r", run_id, "-d", str(tmp_path / "out"), "--yes"))
        assert "no snapshot manifest kept" in failed, failed
        assert not (tmp_path / "escaped.txt").exists()
        assert not list((tmp_path / "out").rglob("*"))
    finally:
        kept.write_bytes(original)


class ForgingClient:
    """A server answering a manifest that names ``..`` (the client's own check is the last)."""

    def request(self, method: str, path: str) -> dict[str, object]:
        entry = {"sha256": "0" * 64, "size": 1, "mode": 0o644}
        return {"run_id": "r1", "digest": "d", "server_owned": 0,
                "files": {"ok.txt": entry, "../up.txt": entry, "a/../../b": entry}}

    def open(self, path: str) -> object:
        raise AssertionError("nothing is fetched once a path is refused")


def test_the_client_refuses_a_manifest_naming_dotdot(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    linked = LinkedProject(tmp_path, "http://127.0.0.1:9", "keep")
    forging: Any = ForgingClient()
    with pytest.raises(AmlError) as refused, snapshot_restore.fetched(forging, linked, "r1", dest):
        pass
    text = str(refused.value)
    assert "../up.txt" in text and "a/../../b" in text and "Nothing was written" in text
    assert "\n" not in text and os.listdir(dest) == [] and not (tmp_path / "up.txt").exists()
