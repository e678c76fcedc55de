"""Snapshots of a live process after its second one (snapshot_watch.py): only the paths inotify
names are read again. Each case compares the result with a full walk that re-hashes
everything (``use_cache=False``), and checks which of the two paths produced it."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from aml_magic.domain.snapshot import manifest as snapshot_module
from aml_magic.domain.snapshot.manifest import forget_watches, take_snapshot


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "proj"
    for i in range(30):
        folder = root / "data" / f"d{i % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i:02d}.txt").write_text(f"content {i}\n")
    (root / "train.py").write_text("print('hi')\n")
    (root / ".gitignore").write_text("*.log\n")
    forget_watches()
    yield root
    forget_watches()


@pytest.fixture
def walks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many full walks ran (appended to on each)."""
    count: list[int] = []
    real = snapshot_module._take_snapshot

    def counting(*args: Any, **kwargs: Any) -> Any:
        count.append(1)
        return real(*args, **kwargs)
    monkeypatch.setattr(snapshot_module, "_take_snapshot", counting)
    return count


def _cache(root: Path) -> Path:
    return root / ".aml" / "cache" / "hashes.json"


def _watched(root: Path, walks: list[int], change: Callable[[], None], *,
             full_walk: bool = False) -> None:
    """Two snapshots set the watch up; after ``change``, the next one equals a full walk."""
    take_snapshot(root, cache_path=_cache(root))
    take_snapshot(root, cache_path=_cache(root))
    before = len(walks)
    change()
    got = take_snapshot(root, cache_path=_cache(root))
    walked = len(walks) - before
    truth = take_snapshot(root, cache_path=root / "elsewhere.json", use_cache=False)
    assert got.files == truth.files
    assert got.digest == truth.digest
    assert walked == (1 if full_walk else 0)


def test_edit_keeping_size_and_mtime_is_caught(project: Path, walks: list[int]) -> None:
    target = project / "data" / "d1" / "f01.txt"

    def edit() -> None:
        st = target.stat()
        target.write_text("CONTENT 1\n")                 # same size
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))   # mtime put back
    _watched(project, walks, edit)


def test_delete_and_rename_and_new_file(project: Path, walks: list[int]) -> None:
    def change() -> None:
        (project / "data" / "d0" / "f00.txt").unlink()
        (project / "data" / "d1" / "f04.txt").rename(project / "data" / "d2" / "moved.txt")
        (project / "data" / "d2" / "new.txt").write_text("new\n")
        (project / "data" / "d2" / "skip.log").write_text("ignored by .gitignore\n")
    _watched(project, walks, change)


def test_exec_bit_is_caught(project: Path, walks: list[int]) -> None:
    _watched(project, walks, lambda: (project / "train.py").chmod(0o755))


def test_rename_between_two_watched_snapshots(project: Path, walks: list[int]) -> None:
    # Two changes in a row, each seen by the watch (no walk in between)
    _watched(project, walks, lambda: (project / "train.py").rename(project / "run.py"))
    before = len(walks)
    (project / "run.py").rename(project / "train.py")
    got = take_snapshot(project, cache_path=_cache(project))
    assert len(walks) == before
    assert got.files == take_snapshot(project, cache_path=project / "x.json",
                                      use_cache=False).files


@pytest.mark.parametrize("change", ["ignore_file", "new_folder", "symlink", "removed_folder"])
def test_structural_changes_walk_again(project: Path, walks: list[int], change: str) -> None:
    actions: dict[str, Callable[[], Any]] = {
        "ignore_file": lambda: (project / ".gitignore").write_text("*.txt\n"),
        "new_folder": lambda: (project / "data" / "d9").mkdir(),
        "symlink": lambda: (project / "link.py").symlink_to(project / "train.py"),
        "removed_folder": lambda: [p.unlink() for p in (project / "data" / "d2").iterdir()]
        and (project / "data" / "d2").rmdir(),
    }
    _watched(project, walks, actions[change], full_walk=True)


def test_edits_in_aml_folder_do_not_count(project: Path, walks: list[int]) -> None:
    def change() -> None:
        (project / ".aml" / "history.db").write_bytes(b"x")
        (project / ".aml" / "runs" / "r1").mkdir(parents=True)
    _watched(project, walks, change)
