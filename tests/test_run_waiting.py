"""Waiting on runs: ``Run.logs(follow=True)`` streams while the run lives and ends when it
ends; the pauses between checks start short and grow (no fixed polling interval)."""
from __future__ import annotations

import dataclasses
import sys
import textwrap
from pathlib import Path

import pytest

from aml_magic import Workspace
from aml_magic.domain.history.status import RunStatus
from aml_magic.service.run import Backoff


def test_backoff_starts_short_doubles_to_its_cap_and_resets() -> None:
    backoff = Backoff(cap=0.01, first=0.001)
    assert [backoff.next() for _ in range(6)] == [0.001, 0.002, 0.004, 0.008, 0.01, 0.01]
    backoff.reset()
    assert backoff.next() == 0.001
    backoff.reset(0.005)
    assert backoff.next() == 0.005
    backoff.reset(1.0)
    assert backoff.next() == 0.01          # never past the cap


def test_follow_yields_lines_while_the_run_is_still_going(project: Path, tmp_path: Path) -> None:
    # Given a run that prints a line, then waits for a go-ahead file before printing another
    go = tmp_path / "go"
    (project / "handshake.py").write_text(textwrap.dedent("""
        import os, sys, time
        print("first", flush=True)
        deadline = time.time() + 30
        while not os.path.exists(sys.argv[1]) and time.time() < deadline:
            time.sleep(0.01)
        print("second" if os.path.exists(sys.argv[1]) else "no go-ahead", flush=True)
        sys.exit(0 if os.path.exists(sys.argv[1]) else 3)
    """))
    run = Workspace(project).submit("local", "handshake.py", [str(go)])
    # When the log is followed, and the go-ahead given only once "first" has been streamed
    seen = []
    for line in run.logs(follow=True):
        seen.append(line.strip())
        if line.strip() == "first":
            go.touch()
    # Then the second line came after it and the stream ended with the run
    assert seen == ["first", "second"], seen
    assert run.record.status is RunStatus.COMPLETED


def test_wait_returns_at_the_deadline_for_a_live_run(project: Path, tmp_path: Path) -> None:
    # Given a run that will not end by itself soon
    (project / "sleeper.py").write_text("import time; time.sleep(30)\n")
    run = Workspace(project).submit("local", "sleeper.py")
    try:
        # When waited for with a short timeout, Then it is still live
        assert not run.wait(timeout=0.2).is_terminal()
    finally:
        # And when canceled it ends (the wait sees the agent's exit)
        assert run.cancel() is RunStatus.CANCELED


def test_folder_watch_wakes_on_log_growth_and_process_exit_only(tmp_path: Path) -> None:
    import subprocess

    from aml_magic.domain.snapshot.folder_watch import FolderWatch
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                            stdin=subprocess.PIPE)
    watch = FolderWatch(tmp_path, pid=proc.pid)
    try:
        assert watch.available                       # Linux: inotify is there
        # Given nothing written, Then a short wait times out
        assert watch.wait(0.01) is False
        # When the log is appended to (before the wait starts), Then the wait returns at once
        with open(tmp_path / "log.txt", "a") as fh:
            fh.write("line\n")
        assert watch.wait(30) is True
        # And another file of the folder being replaced does not wake it
        (tmp_path / "status.tmp").write_text("{}")
        (tmp_path / "status.tmp").rename(tmp_path / "status.json")
        assert watch.wait(0.05) is False
        # When the process exits, Then the wait returns
        assert proc.stdin is not None
        proc.stdin.close()
        assert watch.wait(30) is True
        proc.wait()
        assert watch.wait(0.01) is False             # reported once
    finally:
        watch.close()
        proc.kill()
        proc.wait()


def test_following_a_local_run_watches_its_folder(project: Path) -> None:
    # Given a local run (its agent writes into the run folder itself)
    (project / "quick.py").write_text("print('hi')\n")
    run = Workspace(project).submit("local", "quick.py")
    # Then the follower watches that folder, and a run elsewhere would not be watched
    watch = run._folder_watch(run.record)
    assert watch is not None
    watch.close()
    elsewhere = dataclasses.replace(run.record, target_state=dataclasses.replace(
        run.record.target_state, run_dir="/remote/runs/x"))
    assert run._folder_watch(elsewhere) is None
    assert "".join(run.logs(follow=True)) == "hi\n"


def test_a_long_local_run_is_streamed_through_its_folder_watch(
        project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a run that lives past the moment a follower starts watching its folder
    from aml_magic.domain.snapshot import folder_watch
    from aml_magic.service import run as run_module
    monkeypatch.setattr(run_module, "WATCH_AFTER_SECONDS", 0.0)
    created: list[folder_watch.FolderWatch] = []
    real = folder_watch.FolderWatch

    def recording(*args: object, **kwargs: object) -> folder_watch.FolderWatch:
        watch = real(*args, **kwargs)  # type: ignore[arg-type]
        created.append(watch)
        return watch

    monkeypatch.setattr(folder_watch, "FolderWatch", recording)
    go = tmp_path / "go"
    (project / "two.py").write_text(textwrap.dedent("""
        import os, sys, time
        print("first", flush=True)
        deadline = time.time() + 30
        while not os.path.exists(sys.argv[1]) and time.time() < deadline:
            time.sleep(0.01)
        print("second", flush=True)
    """))
    run = Workspace(project).submit("local", "two.py", [str(go)])
    # When it is followed, the go-ahead given once "first" arrived
    seen = []
    for line in run.logs(follow=True):
        seen.append(line.strip())
        go.touch()
    # Then every line came, through a watch that was closed at the end
    assert seen == ["first", "second"]
    assert len(created) == 1 and created[0].fd == -1
