"""Warm re-submits to the ``remote`` target from a process that lives on, against the real
sshd: the watched snapshot (snapshot_watch.py) must ship every change, and a dropped pooled
connection must cost a new, host-key-checked login, never a wrong run."""
from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

from aml_magic.domain.snapshot import manifest as snapshot_module
from aml_magic.domain.history.status import RunStatus
from aml_magic.domain.snapshot.manifest import forget_watches, take_snapshot
from aml_magic.domain.snapshot.watch import TreeWatch
from aml_magic.transports.pool import ssh_pool
from aml_magic.service.workspace import Workspace
from tests.fixtures.sshd import SshServer
from tests.targets.test_remote_target import attach, background_done

pytestmark = pytest.mark.sshd

LISTING = ("import hashlib, os\n"
           "for top, dirs, names in sorted(os.walk('.')):\n"
           "    dirs[:] = sorted(d for d in dirs if d not in ('outputs', 'logs'))\n"
           "    for n in sorted(names):\n"
           "        p = os.path.join(top, n)[2:]\n"
           "        print(p, hashlib.sha256(open(p, 'rb').read()).hexdigest())\n")


@pytest.fixture
def remote_base(sshd: SshServer) -> Iterator[Path]:
    """A base folder of this test's own on the remote."""
    base = Path(sshd.home) / f".aml-test-{os.urandom(4).hex()}"
    yield base
    subprocess.run(["rm", "-rf", str(base)], check=False)


@pytest.fixture
def warm(project: Path, sshd: SshServer, remote_base: Path) -> Iterator[Workspace]:
    """A workspace that has submitted twice (its snapshots are watched from then on)."""
    forget_watches()
    (project / "listing.py").write_text(LISTING)
    for i in range(12):
        folder = project / "data" / f"d{i % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i:02d}.txt").write_text(f"content {i:02d}\n")
    ws = Workspace(project)
    attach(ws, sshd, remote_base_dir=f"~/{remote_base.name}")
    for _ in range(2):
        assert ws.submit("vm", "listing.py").wait(60) == RunStatus.COMPLETED
    assert any(isinstance(w, TreeWatch) and w.usable for w in snapshot_module._WATCHES.values())
    yield ws
    ws.close()
    forget_watches()


def _project_listing(project: Path, tmp: Path) -> list[str]:
    """What the run must see: a full walk's snapshot, every file re-hashed (no cache)."""
    truth = take_snapshot(project, cache_path=tmp / "hashes.json", use_cache=False)
    return sorted(f"{rel} {entry.sha256}" for rel, entry in truth.files.items())


def _resubmit_and_compare(ws: Workspace, project: Path, remote_base: Path) -> None:
    from tests._wait import wait_until
    wait_until(lambda: background_done(remote_base), 60, "the spare tree was built")
    run = ws.submit("vm", "listing.py")
    assert run.wait(60) == RunStatus.COMPLETED
    assert run.record.target_state.sync == "spare"          # the warm path, patched
    assert sorted(run.log_text()[0].splitlines()) == _project_listing(project, project.parent)


def test_edit_delete_and_rename_reach_the_run(warm: Workspace, project: Path,
                                              remote_base: Path) -> None:
    # Given an edit that keeps the size and puts the mtime back, a delete and a rename
    edited = project / "data" / "d1" / "f04.txt"
    st = edited.stat()
    edited.write_text("CONTENT 04\n")
    os.utime(edited, ns=(st.st_atime_ns, st.st_mtime_ns))
    (project / "data" / "d0" / "f00.txt").unlink()
    (project / "data" / "d2" / "f05.txt").rename(project / "data" / "d2" / "renamed.txt")
    # When submitted again from the same process, Then the run's tree is the project's
    _resubmit_and_compare(warm, project, remote_base)
    # And a rename back between two warm submits is shipped as well
    (project / "data" / "d2" / "renamed.txt").rename(project / "data" / "d2" / "f05.txt")
    _resubmit_and_compare(warm, project, remote_base)


def test_dropped_connection_logs_in_again_with_the_host_key_checked(
        warm: Workspace, project: Path, sshd: SshServer, remote_base: Path) -> None:
    def logins() -> int:
        return sum(t.connections_opened for t in ssh_pool().connections() if t.port == sshd.port)
    before = logins()
    # Given the pooled connection was cut (the network dropped it)
    assert sshd.kill_connections() >= 1
    (project / "data" / "d1" / "f01.txt").write_text("after the cut\n")
    # When submitted again, Then one new login serves it and the run has the change
    _resubmit_and_compare(warm, project, remote_base)
    assert logins() == before + 1
    # And a new login to a server whose host key changed is refused, never trusted
    compute = warm.config.compute("vm")
    other = "SHA256:" + "A" * 43
    compute.host_key_fingerprint = other
    warm.config.write_compute(compute)
    warm.close()
    ws = Workspace(project)
    try:
        ssh_pool().close_all()
        with pytest.raises(Exception, match="(?i)host key"):
            ws.submit("vm", "listing.py")
    finally:
        ws.close()


def test_submit_returns_while_the_run_goes_on(warm: Workspace, project: Path) -> None:
    # Given a script that runs until the test lets it end (the agent is forked by the sync
    # helper: it must hold none of the SSH channel's descriptors, or the submit would wait)
    (project / "hold.py").write_text(
        "import os, time\nwhile not os.path.exists('go'):\n    time.sleep(0.02)\nprint('went')\n")
    done: list[Any] = []
    thread = threading.Thread(target=lambda: done.append(warm.submit("vm", "hold.py")),
                              daemon=True)
    # When it is submitted, Then the submit returns while the run is still running
    thread.start()
    thread.join(60)
    assert done, "the submit did not return while its run was running"
    run = done[0]
    assert run.refresh().status == RunStatus.RUNNING
    # And it ends once released
    (Path(run.record.target_state.folder()) / "work" / "go").touch()
    assert run.wait(60) == RunStatus.COMPLETED
    assert run.log_text()[0] == "went\n"
