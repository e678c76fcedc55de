"""A submitter SIGKILLed before it launches its run: the next look fails the run with that
reason, ``aml run wait`` returns, and the partial copy of the project is removed."""
from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

from tests._project import AML, aml, write
from tests._wait import wait_until


def _partial_copies(project: Path) -> list[Path]:
    return list((project / ".aml" / "runs").glob("*/.work.partial-*"))


def test_submitter_killed_mid_copy_fails_the_run_and_leaves_no_copy(project: Path) -> None:
    write(project, "train.py", "print('never runs')\n")
    data = project / "data"
    data.mkdir()
    for i in range(200):                      # many files: the copy takes a while
        sub = data / f"d{i:03d}"
        sub.mkdir()
        for j in range(60):
            (sub / f"f{j:02d}.txt").write_bytes(b"x" * 2048)
    proc = subprocess.Popen([*AML, "experiment", "submit", "-c", "local", "train.py"],
                            cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: bool(_partial_copies(project)) or proc.poll() is not None, 120,
                   "the submit to start copying the project")
        assert proc.poll() is None, "the submit finished before it could be killed mid-copy"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.communicate()
    assert _partial_copies(project), "the kill left no partial copy: the test proved nothing"
    [run_folder] = list((project / ".aml" / "runs").iterdir())
    run_id = run_folder.name

    waited = aml("run", "wait", run_id, "--timeout", "60", cwd=project, check=False)
    assert waited.returncode == 1 and "Failed" in waited.stdout, waited.stdout + waited.stderr
    shown = json.loads(aml("run", "show", run_id, "-o", "json", cwd=project).stdout)
    assert shown["status"] == "Failed"
    assert f"pid {proc.pid}" in shown["reason"] and "died before launching" in shown["reason"]
    assert not _partial_copies(project)
    assert not (run_folder / "work").exists()


def test_live_submitter_is_not_failed(project: Path) -> None:
    """The same check leaves a run alone while its submitter lives (a background submit)."""
    from aml_magic.domain.history import RunStore
    from aml_magic.domain.history.records import RunRecord
    from aml_magic.domain.history.stale import fail_if_abandoned
    with RunStore(project) as store:
        record = RunRecord(run_id=store.new_run_id("proj"), project="proj", status="Preparing")
        store.create_run(record)               # this test process is the submitter
        assert fail_if_abandoned(store, store.get(record.run_id)).status.value == "Preparing"


def test_a_submitter_that_is_only_a_zombie_counts_as_gone(tmp_path: Path) -> None:
    """A killed submitter whose parent never reaps it (a detached driver reparented to a PID 1
    that does not reap) still has a /proc entry: it must count as gone."""
    import sys
    import time

    from aml_magic.domain.history.stale import _boot_id, abandoned_reason, process_start
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        start = process_start(child.pid)
        assert start is not None
        (tmp_path / "submitter.json").write_text(json.dumps(
            {"pid": child.pid, "start": start, "boot_id": _boot_id(), "host": os.uname().nodename}))
        assert abandoned_reason(tmp_path, time.time()) is None          # alive: may launch
        os.kill(child.pid, signal.SIGKILL)
        wait_until(lambda: Path(f"/proc/{child.pid}/stat").read_bytes().rsplit(b")", 1)[1]
                   .split()[0] == b"Z", 10, "the child to be a zombie (not reaped yet)")
        assert f"pid {child.pid}" in (abandoned_reason(tmp_path, time.time()) or "")
    finally:
        child.kill()
        child.wait()
