"""A run that fills its file system (the run folder on a small tmpfs, mounted for the test):
it ends Failed with "no space left on device" recorded, the agent exits, and the history is
whole. Also: a run whose disk fills while it keeps running is stopped by its agent."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._project import aml, write
from tests._require import require
from tests._wait import wait_until
from tests.fixtures.sshd import SshServer

FILL = """\
import os, sys, time
chunk = b"x" * (256 * 1024)
os.makedirs("outputs", exist_ok=True)
with open("outputs/fill.bin", "wb") as fh:
    try:
        while True:
            fh.write(chunk)
            fh.flush()
    except OSError:
        pass
if sys.argv[1] == "linger":
    time.sleep(600)              # keeps running on a full disk: the agent must stop it
sys.exit(3)
"""


@pytest.fixture
def small_runs_fs(project: Path) -> Iterator[Path]:
    """``.aml/runs`` of the project on a 3 MB tmpfs (root only); unmounted afterwards."""
    require(os.geteuid() == 0, "mounting a tmpfs needs root")
    runs = project / ".aml" / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    aml("run", "list", cwd=project)                 # history.db exists, outside the tmpfs
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(runs)],
                             capture_output=True, text=True)
    require(mounted.returncode == 0, f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    try:
        yield runs
    finally:
        subprocess.run(["umount", "-l", str(runs)], check=False)


def _agent_gone(run_folder: Path) -> bool:
    status = json.loads((run_folder / "status.json").read_text())
    pid = status.get("pid")
    return not pid or not Path(f"/proc/{pid}").exists() or \
        Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


@pytest.mark.parametrize("mode", ["exit", "linger"])
def test_full_run_folder_fails_the_run_with_the_reason(project: Path, small_runs_fs: Path,
                                                       mode: str) -> None:
    write(project, "fill.py", FILL)
    proc = aml("experiment", "submit", "-c", "local", "fill.py", mode, "--wait", cwd=project,
               check=False, timeout=120)
    assert proc.returncode != 0
    run_id = next(line.split()[1] for line in proc.stderr.splitlines()
                  if line.startswith("run "))
    shown = json.loads(aml("run", "show", run_id, "-o", "json", cwd=project).stdout)
    assert shown["status"] == "Failed"
    assert "no space left on device" in shown["reason"], shown["reason"]
    if mode == "linger":                   # stopped by its agent, not ended by itself
        assert "the run was stopped" in shown["reason"], shown["reason"]
    else:
        assert "exit code" in shown["reason"], shown["reason"]  # it died on the full disk
    folder = small_runs_fs / run_id
    wait_until(lambda: _agent_gone(folder), 30, "the agent to exit")
    assert not list(folder.glob("*.tmp")) and not (folder / ".space-reserve").exists()
    db = project / ".aml" / "history.db"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT status FROM runs WHERE run_id = ?",
                            (run_id,)).fetchone()[0] == "Failed"


def test_full_history_disk_is_one_line_and_leaves_history_whole(project: Path) -> None:
    """``.aml`` (history.db and run folders) on a tmpfs filled to the brim: a submit fails
    with one line saying so; the history keeps its earlier run, intact."""
    require(os.geteuid() == 0, "mounting a tmpfs needs root")
    aml_dir = project / ".aml"
    aml_dir.mkdir(exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(aml_dir)],
                             capture_output=True, text=True)
    require(mounted.returncode == 0, f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    try:
        write(project, "ok.py", "print('fine')\n")
        aml("experiment", "submit", "-c", "local", "ok.py", "--wait", cwd=project)
        # unbuffered: a buffered file would keep what did not fit and fail again on close
        with open(aml_dir / "filler", "wb", buffering=0) as fh:
            try:
                while True:
                    fh.write(b"\0" * 65536)
                    fh.flush()
            except OSError:
                pass
        proc = aml("experiment", "submit", "-c", "local", "ok.py", "--wait", cwd=project,
                   check=False, timeout=60)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr
        assert "no space left on device" in proc.stderr.lower(), proc.stderr
        assert len(proc.stderr.strip().splitlines()) <= 2, proc.stderr   # warning + error
        (aml_dir / "filler").unlink()
        with sqlite3.connect(aml_dir / "history.db") as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        runs = json.loads(aml("run", "list", "-o", "json", cwd=project).stdout)
        assert runs and runs[-1]["status"] == "Completed"
    finally:
        subprocess.run(["umount", "-l", str(aml_dir)], check=False)


def test_full_disk_on_the_remote_fails_the_run_with_the_reason(project: Path,
                                                              sshd: SshServer) -> None:
    """The remote side: the target's base folder on a small tmpfs owned by the SSH user."""
    import pwd

    from aml_magic.service.workspace import Workspace
    require(os.geteuid() == 0, "mounting a tmpfs needs root")
    base = Path(sshd.home) / f".aml-full-{os.urandom(4).hex()}"
    base.mkdir()
    user = pwd.getpwnam(sshd.username)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o",
                              f"size=12m,uid={user.pw_uid},gid={user.pw_gid},mode=0700",
                              "tmpfs", str(base)], capture_output=True, text=True)
    require(mounted.returncode == 0, f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    ws = Workspace(project)
    try:
        ws.attach("remote", "vm", address=f"{sshd.host}:{sshd.port}", username=sshd.username,
                  password=sshd.password, trust_new_host_key=True,
                  remote_base_dir=f"~/{base.name}")
        write(project, "fill.py", FILL)
        run = ws.submit("vm", "fill.py", ["linger"])
        status = run.wait(timeout=90)
        assert status.value == "Failed", (status, run.record.reason)
        assert "no space left on device" in (run.record.reason or ""), run.record.reason
        assert "the run was stopped" in (run.record.reason or ""), run.record.reason
        assert not list(base.rglob("*.json.*.tmp"))
    finally:
        ws.close()
        subprocess.run(["umount", "-l", str(base)], check=False)
        subprocess.run(["rm", "-rf", str(base)], check=False)
