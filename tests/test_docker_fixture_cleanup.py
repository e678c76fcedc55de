"""The dockerd fixture reclaims what crashed sessions left (private data roots, exec roots,
logs) without touching a live engine's folders or ones still being set up. Hermetic: the
fixture's parent folders point into tmp_path and the live engine is this test's own process."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests._wait import wait_until
from tests.fixtures import dockerd as fixture

HOUR_AGO = 3600.0


def make(path: Path, *, directory: bool = True, old: bool = True) -> Path:
    if directory:
        path.mkdir(parents=True)
    else:
        path.write_text("log")
    if old:
        stamp = path.stat().st_mtime - HOUR_AGO
        os.utime(path, (stamp, stamp))
    return path


def test_abandoned_private_roots_are_removed_live_and_young_ones_kept(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lib, run = tmp_path / "lib", tmp_path / "run"
    monkeypatch.setattr(fixture, "STABLE_ROOT", lib / "aml-magic-test-docker")
    monkeypatch.setattr(fixture, "RUN_PARENT", run)
    # Given leftovers of a dead session, a young private root, and a live "dockerd" using others
    dead_root = make(lib / "aml-magic-docker-dead")
    dead_log = make(lib / "aml-magic-docker-dead.log", directory=False)
    dead_run = make(run / "amd-dead")
    young = make(lib / "aml-magic-docker-young", old=False)
    live_root = make(lib / "aml-magic-docker-live")
    live_log = make(lib / "aml-magic-docker-live.log", directory=False)
    live_run = make(run / "amd-live")
    fake = tmp_path / "dockerd"
    fake.symlink_to(sys.executable)
    live = subprocess.Popen([str(fake), "-c", "import time; time.sleep(300)",
                             "--data-root", str(live_root), "--exec-root", str(live_run / "exec")])
    try:
        wait_until(lambda: str(live_root) in fixture._dockerd_paths(), 30, "the fake dockerd runs")
        # When a session starts and reclaims
        fixture.reclaim_abandoned_private_roots()
    finally:
        live.kill()
        live.wait()
    # Then only the dead session's folders and log are gone
    assert not dead_root.exists() and not dead_log.exists() and not dead_run.exists()
    assert young.is_dir() and live_root.is_dir() and live_log.exists() and live_run.is_dir()
