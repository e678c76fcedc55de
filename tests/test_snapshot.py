"""Snapshot: ignore files, symlinks, hash cache, copies, object tar, git info."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from aml_magic.domain.snapshot import manifest as snapshot
from aml_magic.errors import AmlError
from aml_magic.domain.snapshot.gitinfo import git_info
from aml_magic.domain.snapshot.manifest import FileEntry, Manifest, forget_watches, take_snapshot
from aml_magic.domain.snapshot.ship import materialize, missing, write_objects_tar
from tests._require import require

OLD = time.time() - 3600  # files older than the racy window, so the cache may keep them


def write(root: Path, rel: str, data: str | bytes = "x", *, mode: int | None = None) -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data.encode() if isinstance(data, str) else data)
    if mode is not None:
        p.chmod(mode)
    os.utime(p, (OLD, OLD))
    return p


def sha(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    write(root, "train.py", "print('hi')\n")
    write(root, "aml_config/local.runconfig", "Target: local\n")
    write(root, "data/a.csv", "1,2\n")
    return root


def test_manifest_lists_files_with_sha_and_skips_aml_and_git(project: Path) -> None:
    # Given a project with .aml/ and .git/ content
    write(project, ".aml/history.db", "db")
    write(project, ".git/HEAD", "ref")
    write(project, "sub/.git", "gitdir: elsewhere")
    # When
    m = take_snapshot(project)
    # Then
    assert list(m.files) == ["aml_config/local.runconfig", "data/a.csv", "train.py"]
    assert m.files["train.py"] == FileEntry(sha("print('hi')\n"), 12, 0o644)
    assert m.total_size == 12 + 14 + 4
    assert len(m.digest) == 64


def test_ignore_files_with_negation_and_nesting(project: Path) -> None:
    # Given root .gitignore, an .amlignore re-including a file and a nested .gitignore
    write(project, ".gitignore", "*.log\nbuild/\nbig.bin\n")
    write(project, ".amlignore", "data/\n!keep.log\n")
    write(project, "run.log", "l")
    write(project, "keep.log", "k")
    write(project, "build/out.o", "o")
    write(project, "big.bin", "b")
    write(project, "src/.gitignore", "secret.txt\n!debug.log\n")
    write(project, "src/secret.txt", "s")
    write(project, "src/debug.log", "d")
    write(project, "src/ok.py", "p")
    # When
    files = set(take_snapshot(project).files)
    # Then
    assert files == {".gitignore", ".amlignore", "keep.log", "src/.gitignore", "src/debug.log",
                     "src/ok.py", "train.py", "aml_config/local.runconfig"}


def test_digest_changes_with_content_and_exec_bit(project: Path) -> None:
    d0 = take_snapshot(project).digest
    assert take_snapshot(project).digest == d0
    (project / "train.py").chmod(0o755)
    m1 = take_snapshot(project)
    assert m1.files["train.py"].mode == 0o755 and m1.digest != d0
    write(project, "train.py", "print('bye')\n")
    assert take_snapshot(project).digest not in (d0, m1.digest)


def test_symlinks_inside_are_files_outside_are_skipped_with_warning(project: Path,
                                                                     tmp_path: Path) -> None:
    # Given links to an inside file, an outside file, a folder and nothing
    write(tmp_path, "outside.txt", "secret")
    (project / "link.py").symlink_to("train.py")
    (project / "out.txt").symlink_to(tmp_path / "outside.txt")
    (project / "datalink").symlink_to("data")
    (project / "broken").symlink_to("nope")
    # When
    m = take_snapshot(project)
    # Then
    assert m.files["link.py"].sha256 == m.files["train.py"].sha256
    assert "out.txt" not in m.files and "datalink" not in m.files and "broken" not in m.files
    joined = "\n".join(m.warnings)
    assert "out.txt: skipped, symlink points outside the project" in joined
    assert "datalink" in joined and "broken" in joined
    # And the copy holds a regular file, not a link
    dest = project.parent / "run"
    materialize(m, project, dest)
    assert not (dest / "link.py").is_symlink()
    assert (dest / "link.py").read_text() == "print('hi')\n"


def test_second_snapshot_reads_no_unchanged_file(project: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a first snapshot filled the cache
    first = take_snapshot(project)
    cache = snapshot.hash_cache_path(project)      # in the user's cache folder
    assert cache is not None and cache.is_file()
    reads: list[str] = []
    real = snapshot._hash_file
    monkeypatch.setattr(snapshot, "_hash_file", lambda p: reads.append(p) or real(p))
    # When nothing changed
    second = take_snapshot(project)
    # Then no file is read and the manifest is the same
    assert reads == [] and second.digest == first.digest
    # When one file changes (same size, new mtime)
    p = write(project, "data/a.csv", "3,4\n")
    os.utime(p, (OLD + 5, OLD + 5))
    third = take_snapshot(project)
    # Then only that file is read
    assert [Path(r).name for r in reads] == ["a.csv"]
    assert third.files["data/a.csv"].sha256 == sha("3,4\n")


def test_recently_modified_files_are_not_cached(project: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a file modified just now (could change again within the same timestamp tick)
    (project / "fresh.py").write_text("a")
    take_snapshot(project)
    reads: list[str] = []
    real = snapshot._hash_file
    monkeypatch.setattr(snapshot, "_hash_file", lambda p: reads.append(p) or real(p))
    # When / Then: it is re-read next time, the old files are not
    take_snapshot(project)
    assert [Path(r).name for r in reads] == ["fresh.py"]


def test_corrupt_cache_is_ignored(project: Path) -> None:
    cache = project / "c.json"
    cache.write_text("{not json")
    m = take_snapshot(project, cache_path=cache)
    assert "train.py" in m.files
    assert '"version":1' in cache.read_text()


def test_manifest_json_round_trip_and_unsafe_paths(project: Path) -> None:
    m = take_snapshot(project)
    back = Manifest.from_json(m.to_json())
    assert back.files == m.files and back.digest == m.digest
    bad = m.to_json().replace('"train.py"', '"../evil.py"')
    with pytest.raises(AmlError, match="unsafe path"):
        Manifest.from_json(bad)


def test_materialize_copies_independent_of_project(project: Path, tmp_path: Path) -> None:
    # Given an executable script
    (project / "train.py").chmod(0o755)
    m = take_snapshot(project)
    dest = tmp_path / "run" / "work"
    # When
    materialize(m, project, dest)
    # Then the copy has the content and exec bit, and later edits do not reach it
    assert (dest / "data/a.csv").read_text() == "1,2\n"
    assert os.stat(dest / "train.py").st_mode & 0o111
    assert os.stat(dest / "train.py").st_ino != os.stat(project / "train.py").st_ino
    (project / "train.py").write_text("changed")
    assert (dest / "train.py").read_text() == "print('hi')\n"


def test_materialize_verify_detects_change(project: Path, tmp_path: Path) -> None:
    m = take_snapshot(project)
    (project / "train.py").write_text("changed!!!!\n")
    with pytest.raises(AmlError, match="train.py: changed"):
        materialize(m, project, tmp_path / "w", verify=True)


@pytest.mark.parametrize("compress", [False, True])
def test_objects_tar_holds_each_missing_sha_once(project: Path, compress: bool) -> None:
    # Given two files with the same content and a store that has one object already
    write(project, "copy.py", "print('hi')\n")
    m = take_snapshot(project)
    have = {sha("1,2\n")}
    need = missing(m, have)
    assert need == sorted({sha("print('hi')\n"), sha("Target: local\n")})
    # When
    buf = io.BytesIO()
    n = write_objects_tar(m, project, need + need, buf, compress=compress)
    # Then
    data = buf.getvalue()
    if compress:
        data = gzip.decompress(data)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {ti.name: tar.extractfile(ti).read() for ti in tar}  # type: ignore[union-attr]
    assert n == 2 and set(members) == set(need)
    assert all(sha(body) == name for name, body in members.items())


def test_objects_tar_refuses_file_changed_since_snapshot(project: Path) -> None:
    m = take_snapshot(project)
    (project / "train.py").write_text("print('HI')\n")  # same size, new content
    with pytest.raises(AmlError, match="changed while"):
        write_objects_tar(m, project, [m.files["train.py"].sha256], io.BytesIO())


def test_large_file_hashed_in_chunks(project: Path) -> None:
    body = os.urandom(3 * (1 << 20) + 7)
    write(project, "big.bin", body)
    assert take_snapshot(project).files["big.bin"].sha256 == sha(body)


def test_cached_snapshot_of_many_files_rereads_nothing(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # Given 3,000 files in 30 folders with an ignore file
    root = tmp_path / "many"
    for d in range(30):
        for f in range(100):
            write(root, f"d{d}/f{f}.py", f"{d}-{f}")
    write(root, ".gitignore", "*.pyc\n__pycache__/\n")
    take_snapshot(root)
    # When it is taken again with nothing changed
    import aml_magic.domain.snapshot.manifest as snapshot_module
    hashed: list[str] = []
    real_hash = snapshot_module._hash_file
    monkeypatch.setattr(snapshot_module, "_hash_file",
                        lambda path: hashed.append(path) or real_hash(path))
    m = take_snapshot(root)
    # Then every file is listed and none is read again
    assert len(m.files) == 3001
    assert hashed == []


def test_digest_is_over_path_mode_and_content_of_every_file() -> None:
    # Given odd names (non-ASCII, a byte that is not UTF-8) and both modes
    files = {"a b/\u00fc.py": FileEntry("0" * 64, 1, 0o644),
             "x\udcff.bin": FileEntry("1" * 64, 2, 0o755), "z": FileEntry("2" * 64, 0, 0o644)}
    # Then the digest is sha256 over "path NUL mode NUL sha LF" in path order, as documented
    expected = hashlib.sha256()
    for rel in sorted(files):
        e = files[rel]
        expected.update(os.fsencode(rel) + b"\0" + f"{e.mode:o}\0{e.sha256}\n".encode())
    assert Manifest(dict(files)).digest == expected.hexdigest()


def test_a_live_process_sees_ignore_file_and_cache_changes(project: Path) -> None:
    # Given a process that already took a snapshot (decisions and hash cache kept in memory)
    write(project, ".amlignore", "data/\n")
    assert "data/a.csv" not in take_snapshot(project).files
    # When the ignore file changes, Then the next snapshot follows the new rules
    write(project, ".amlignore", "*.py\n")
    m = take_snapshot(project)
    assert "data/a.csv" in m.files and "train.py" not in m.files
    # And when another process replaces the hash cache, its entries are what is read (once
    # the process stops watching the project: a watched project is not re-read at all, see
    # test_snapshot_watch.py)
    forget_watches()
    cache = snapshot.hash_cache_path(project)
    assert cache is not None
    data = json.loads(cache.read_text())
    data["entries"]["data/a.csv"][3] = "f" * 64   # a (wrong) hash for the unchanged file
    cache.write_text(json.dumps(data))
    assert take_snapshot(project).files["data/a.csv"].sha256 == "f" * 64


def test_git_info_commit_and_dirty(project: Path) -> None:
    require(shutil.which("git"), "git is not installed (apt-get install git)")
    # Given a repository with one commit
    assert git_info(project) == (None, None)
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@t")

    def git(*a: str) -> str:
        return subprocess.run(["git", "-C", str(project), *a], check=True, env=env,
                              capture_output=True, text=True).stdout.strip()

    git("init", "-q")
    assert git_info(project) == (None, True)
    git("add", "-A")
    git("commit", "-q", "-m", "x")
    head = git("rev-parse", "HEAD")
    # Then clean, then dirty after an edit
    assert git_info(project) == (head, False)
    (project / "train.py").write_text("edit")
    assert git_info(project) == (head, True)


def test_git_info_without_git_binary(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(project))
    assert git_info(project) == (None, None)


def test_a_cold_snapshot_hashed_on_two_threads_equals_one_hashed_on_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "many"
    for n in range(600):
        write(root, f"d{n % 7}/f{n}.bin", f"content {n} " * (n % 50 + 1))
    forget_watches()
    threaded = take_snapshot(root, use_cache=False)
    monkeypatch.setattr(snapshot, "_PARALLEL_MIN_FILES", 10**9)
    single = take_snapshot(root, use_cache=False)
    assert len(threaded.files) == 600
    assert threaded.files == single.files and threaded.digest == single.digest
