"""Magics in a real ipykernel: a run outlives a kernel restart, and an attach password typed
into the front end's masked prompt ends up in no file."""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from .test_magics import remote_available
from .kernels import WIDGET_VIEW, KernelSession, bundles, text_of

# The run prints its ticks, then waits for a gate file the test creates only after the kernel
# restarted, so it is certainly still running across the restart.
SLOW_CELL = """%%aml_submit -c local --name slow.py --out run
import os, time
for i in range(12):
    print("tick", i, flush=True)
while not os.path.exists({gate!r}):
    time.sleep(0.01)
print("slow done")
"""
WAIT_RUNNING = """import time
deadline = time.monotonic() + 60
while str(run.status) != "Running" and time.monotonic() < deadline:
    time.sleep(0.02)
print(run.id); print(run.status)"""


@pytest.fixture
def session(kernel_env: Path, tmp_path: Path) -> Any:
    work = tmp_path / "work"
    work.mkdir()
    kernel = KernelSession(work)
    yield kernel
    kernel.shutdown()


def test_run_survives_kernel_restart(session: KernelSession, tmp_path: Path) -> None:
    # Given a run started in one kernel
    session.run("%load_ext aml_magic\n%aml_init proj")
    gate = tmp_path / "gate"
    submitted = session.run(SLOW_CELL.format(gate=str(gate)))
    assert any(WIDGET_VIEW in b for b in bundles(submitted)), submitted.outputs
    cell = session.run(WAIT_RUNNING)
    run_id, status = text_of(cell, "stdout").split()
    assert status == "Running"
    # When the kernel restarts while the run goes on
    session.restart()
    gate.touch()
    # Then %aml_run in the new kernel shows the same run, its full log and its final status
    session.run("%load_ext aml_magic")
    shown = session.run(f"r = %aml_run --project proj {run_id}\nprint(r.wait(timeout=60))")
    assert any(WIDGET_VIEW in b and run_id in b["text/plain"] for b in bundles(shown))
    assert text_of(shown, "stdout").strip() == "Completed", shown.outputs
    log = session.run("print(r.log_text(0)[0])")
    text = text_of(log, "stdout")
    assert all(f"tick {i}\n" in text for i in range(12)) and "slow done" in text
    final = session.run(f"%aml_run --project proj {run_id}")
    plain = next(b["text/plain"] for b in bundles(final) if WIDGET_VIEW in b)
    assert "Completed" in plain and "slow done" in plain


def test_attach_password_is_in_no_file(session: KernelSession, sshd: Any, tmp_path: Path,
                                       kernel_env: Path) -> None:
    remote_available(tmp_path)
    # Given a project in a kernel whose history goes to a temporary IPYTHONDIR
    session.run("%load_ext aml_magic\n%aml_init proj")
    # When a remote target is attached with --password, answered in the masked input prompt
    cell = session.run(
        f"%aml_attach remote --name vm --address {sshd.host}:{sshd.port} "
        f"--username {sshd.username} --password --host-key-fingerprint {sshd.host_key_fingerprint}",
        answer=sshd.password)
    assert "Attached 'vm'" in text_of(cell), cell.outputs
    run = session.run("%%aml_submit -c vm --wait\nprint('on the vm')")
    assert "Error" not in text_of(run, "stderr"), run.outputs
    notebook = session.save(tmp_path / "work" / "attach.ipynb")
    session.shutdown()
    session.shutdown = lambda: None      # type: ignore[method-assign]
    # Then the password is in no file: project, notebook, IPython history, run history
    secret = sshd.password.encode()
    searched = [p for p in (tmp_path / "work").rglob("*") if p.is_file()]
    searched += [p for p in kernel_env.rglob("*") if p.is_file()]
    assert notebook in searched and (tmp_path / "work/proj/.aml/history.db") in searched
    for path in searched:
        assert secret not in path.read_bytes(), path
    history = next(kernel_env.rglob("history.sqlite"))
    with sqlite3.connect(history) as db:
        inputs = " ".join(row[0] for row in db.execute("SELECT source_raw FROM history"))
    assert "%aml_attach remote --name vm" in inputs and sshd.password not in inputs
