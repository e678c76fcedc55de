"""The server's side of a linked project's snapshot, on the real file system: blobs kept only
when they hash to their name, and a project made to hold exactly a manifest's files while the
server's own files (its targets, its run history) stay."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from aml_magic.errors import ApiError
from aml_magic.service.team.snapshots import BlobStore, ProjectSnapshots


def files_of(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file() and ".aml" not in p.relative_to(root).parts)


def test_a_project_is_made_to_hold_exactly_the_snapshot(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    snapshots = ProjectSnapshots(tmp_path / "projects", blobs)

    def blob(data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        assert blobs.put(sha, [data]) is True
        return sha
    a, c = blob(b"a\n"), blob(b"c\n")
    root = tmp_path / "projects" / "p"
    # Given a first snapshot: the server's default targets are made, the rest is the snapshot
    counts = snapshots.materialize("p", {
        "aml_config/local.runconfig": {"sha256": a, "mode": 0o644},
        "src/x.py": {"sha256": c, "mode": 0o755}, "y": {"sha256": a, "mode": 0o644}})
    assert counts["written"] == 3
    assert files_of(root) == ["aml_config/docker.compute", "aml_config/local.compute",
                              "aml_config/local.runconfig", "src/x.py", "y"]
    assert (root / "src" / "x.py").stat().st_mode & 0o777 == 0o755
    # When the same snapshot comes again, nothing is written or removed
    again = snapshots.materialize("p", {
        "aml_config/local.runconfig": {"sha256": a, "mode": 0o644},
        "src/x.py": {"sha256": c, "mode": 0o755}, "y": {"sha256": a, "mode": 0o644}})
    assert (again["written"], again["removed"]) == (0, 0)
    # When a folder becomes a file and a file a folder, and the runconfig goes
    counts = snapshots.materialize("p", {"src": {"sha256": c, "mode": 0o644},
                                         "y/z": {"sha256": a, "mode": 0o644}})
    # Then the project holds those files, and the server's targets stay
    assert files_of(root) == ["aml_config/docker.compute", "aml_config/local.compute", "src",
                              "y/z"]
    assert (root / "src").read_bytes() == b"c\n"
    # And an edit on the server's copy is put back by the next snapshot
    (root / "src").write_bytes(b"edited on the server, longer\n")
    snapshots.materialize("p", {"src": {"sha256": c, "mode": 0o644},
                                "y/z": {"sha256": a, "mode": 0o644}})
    assert (root / "src").read_bytes() == b"c\n"


def test_a_blob_is_kept_only_if_it_hashes_to_its_name(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    sha = hashlib.sha256(b"real").hexdigest()
    with pytest.raises(ApiError, match="hashes to") as refused:
        blobs.put(sha, [b"fake"])
    assert refused.value.status == 400 and "\n" not in str(refused.value)
    assert blobs.missing([sha]) == [sha]
    assert list((tmp_path / "blobs").rglob("*.tmp")) == []
    assert blobs.put(sha, [b"re", b"al"]) is True and blobs.put(sha, [b"real"]) is False
    assert blobs.missing([sha]) == []


@pytest.mark.parametrize("rel", ["../x", "/etc/passwd", "a//b", "a/./b", ".aml/history.db",
                                 "aml_config/gpu.compute", "aml_config/workspace.yml",
                                 ".git/config", "aml_config/.shared-targets.json"])
def test_paths_outside_the_project_or_the_servers_own_are_refused(tmp_path: Path,
                                                                   rel: str) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    sha = hashlib.sha256(b"x").hexdigest()
    blobs.put(sha, [b"x"])
    with pytest.raises(ApiError) as refused:
        ProjectSnapshots(tmp_path / "projects", blobs).materialize(
            "p", {rel: {"sha256": sha, "mode": 0o644}})
    assert refused.value.status == 400
    assert not (tmp_path / "projects" / "p").exists()


def test_a_file_above_the_servers_body_limit_is_refused_before_any_upload(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aml_magic.domain.config import init_project
    from aml_magic.errors import AmlError
    from aml_magic.service.team import remote
    root = init_project(tmp_path / "big")
    (root / "data.bin").write_bytes(b"x" * 300_000)
    monkeypatch.setattr(remote, "MAX_BLOB", 200_000)
    with pytest.raises(AmlError, match=r"data.bin is .*list it in .amlignore") as refused:
        remote.project_files(remote.LinkedProject(root, "http://127.0.0.1:9", "big"))
    assert "\n" not in str(refused.value)


def test_a_forged_record_of_shared_targets_reaches_no_file_outside_the_projects_config(
        tmp_path: Path) -> None:
    from types import SimpleNamespace

    from aml_magic.service.team.targets import SharedTargets
    # Given a server-side project whose record of written targets names a path (as a forged
    # upload could have, before the record became the server's own) and a detached target
    project = tmp_path / "projects" / "p"
    config = project / "aml_config"
    config.mkdir(parents=True)
    victim = tmp_path / "projects" / "victim.compute"
    victim.write_text("another project's file\n")
    (config / "gone.compute").write_text("type: local\n")
    (config / ".shared-targets.json").write_text('["../../victim", "gone"]')
    unbound: list[str] = []
    shared = SharedTargets.__new__(SharedTargets)
    shared.store = SimpleNamespace(all=lambda: [])              # type: ignore[assignment]
    shared.secrets = SimpleNamespace(                            # type: ignore[assignment]
        unbind_target=lambda root, name: unbound.append(name))
    # When the server writes the shared targets there before a submit
    shared.materialize(project)
    # Then the detached target's file goes, and the path-like entry touches nothing
    assert victim.read_text() == "another project's file\n"
    assert not (config / "gone.compute").exists() and unbound == ["gone"]
    assert (config / ".shared-targets.json").read_text() == "[]"

