"""A local run's project copy made ahead (targets/local_spare.py): taken only when it is the
submit's snapshot, so an edit between two submits is always in the run."""
from __future__ import annotations

import os
from pathlib import Path

from aml_magic import Workspace
from aml_magic.domain.config import init_project
from tests._wait import wait_until


def _spare_dirs(root: Path) -> list[Path]:
    folder = root / ".aml" / "cache" / "local-spare"
    return [p for p in folder.iterdir() if not p.name.startswith(".")] if folder.is_dir() else []


def test_spare_is_taken_when_unchanged_and_never_when_edited(tmp_path: Path) -> None:
    # Given a project submitted twice from one process (a spare copy is then made)
    root = tmp_path / "proj"
    init_project(root)
    (root / "train.py").write_text("print(open('data.txt').read())\n")
    (root / "data.txt").write_text("one\n")
    ws = Workspace(root)
    try:
        for _ in range(2):
            assert ws.submit("local", "train.py").wait(timeout=60).value == "Completed"
        spare = wait_until(lambda: _spare_dirs(root), message="spare copy made")[0]
        inode = spare.stat().st_ino
        # When the project is unchanged, Then the next run's copy is that spare (moved)
        run = ws.submit("local", "train.py")
        assert run.wait(timeout=60).value == "Completed"
        work = ws.store.run_dir(run.id) / "work"
        assert work.stat().st_ino == inode
        # When a file is edited (same size) before the next submit
        spare = wait_until(lambda: _spare_dirs(root), message="next spare copy made")[0]
        (root / "data.txt").write_text("two\n")
        run = ws.submit("local", "train.py")
        assert run.wait(timeout=60).value == "Completed"
        # Then the run has the edit, copied afresh, and its log shows it
        work = ws.store.run_dir(run.id) / "work"
        assert work.stat().st_ino != spare.stat().st_ino
        assert (work / "data.txt").read_text() == "two\n"
        assert "two" in (ws.store.run_dir(run.id) / "log.txt").read_text()
    finally:
        ws.close()
    # And closing the workspace removes the copy it held
    assert not any(p.name.startswith(f"{os.getpid()}-") for p in _spare_dirs(root))
