"""The sweep driver: a detached process (``python -m aml_magic.service.sweep_driver ROOT PARENT_ID``)
that starts a sweep's queued children through ``Workspace.submit``, at most
``maxConcurrentRuns`` at a time, and records the parent's status as the summary of theirs.

It waits on its children's ends with ``Run.wait`` in one thread per running child (on
``local`` these wake on the agent's exit through a pidfd, not on a timer) and checks the
parent between ends, so a cancel stops it from starting more. Each child's changes are
appended to the parent's ``log.txt``: ``aml run logs PARENT -f`` (and the CLI's default
stream) show the sweep's progress.
"""
from __future__ import annotations

import os
import queue
import sys
import threading
from collections import deque
from typing import Any

from aml_magic.errors import AmlError
from aml_magic.domain.history.batch import get_many, mirror_records
from aml_magic.domain.history.status import RunStatus
from aml_magic.domain.history.stale import (abandoned_reason, fail_if_abandoned,
                                            mark_submitter, submitter_pid)
from aml_magic.service.sweep import child_arguments, children_of, fail_sweep, progress_line, summarize
from aml_magic.service.sweep_array import array_target, follow, start_array
from aml_magic.service.run import Run
from aml_magic.service.workspace import Workspace
from aml_magic.domain.target_state import TargetState

#: The longest wait for a child's end before the parent is checked for a cancel (seconds).
CANCEL_CHECK_SECONDS = 0.25


class SweepDriver:
    """Drives one sweep to its end in this process."""

    def __init__(self, ws: Workspace, parent_id: str) -> None:
        self.ws = ws
        self.store = ws.store
        self.parent_id = parent_id
        parent = self.store.get(parent_id)
        sweep = parent.config_snapshot.get("sweep") or {}
        self.limit = max(1, int(sweep.get("max_concurrent_runs") or 1))
        self.runconfig = str(sweep.get("runconfig") or parent.run_configuration)
        self.script: str | None = sweep.get("script")
        self.args: list[str] = [str(a) for a in sweep.get("args", [])]
        self.overrides: dict[str, Any] = dict(sweep.get("overrides") or {})
        self.allow_unsafe = sweep.get("allow_unsafe_container") is True
        self.children = [str(c["run_id"]) for c in children_of(parent)]
        self.points = {str(c["run_id"]): c.get("point", {}) for c in children_of(parent)}
        self.ended: queue.Queue[str] = queue.Queue()
        self.log = open(os.open(self.store.run_dir(parent_id) / "log.txt",
                                os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600),
                        "a", encoding="utf-8")

    def take_over(self, *, resumed: str | None = None) -> None:
        """Note this process as the submitter of the parent, which stands for every queued
        child (``stale.fail_if_abandoned``: its death is noticed), and mark the parent
        Running. ``resumed``: why a sweep whose driver had stopped is taken over again."""
        mark_submitter(self.store.run_dir(self.parent_id))
        array = self.store.get(self.parent_id).target_state.slurm_job_id  # launched by the submit
        self.store.update(self.parent_id, target_state=TargetState(driver_pid=os.getpid(),
                                                                   slurm_job_id=array))
        self.store.set_status(self.parent_id, RunStatus.RUNNING)
        sweep = self.store.get(self.parent_id).config_snapshot.get("sweep") or {}
        at_once = (f"at most {self.limit} at a time" if sweep.get("max_concurrent_runs")
                   else "as the scheduler starts them")
        if resumed is not None:
            self.note(f"sweep {self.parent_id}: taken over again {resumed}\n")
        else:
            self.note(f"sweep {self.parent_id}: {len(self.children)} child runs, {at_once}\n")

    def note(self, text: str) -> None:
        self.log.write(text)
        self.log.flush()

    def canceled(self) -> bool:
        return self.store.get(self.parent_id).status.is_terminal()

    def run(self) -> None:
        if array_target(self.ws, self.runconfig, self.overrides) is not None:
            self.run_array()
            return
        records = get_many(self.store, self.children)
        pending = deque(r.run_id for r in records if r.status is RunStatus.QUEUED)
        # started by a driver that stopped (the server restarted): followed to their ends
        running = {r.run_id for r in records if r.status is not RunStatus.QUEUED
                   and not r.status.is_terminal()}
        for child in running:
            self._follow(child, Run(self.ws, child))
        while pending or running:
            if self.canceled():
                break
            while pending and len(running) < self.limit and not self.canceled():
                child = pending.popleft()
                if self._start(child):
                    running.add(child)
            if not running:
                continue
            try:
                done = self.ended.get(timeout=CANCEL_CHECK_SECONDS)
            except queue.Empty:
                continue
            running.discard(done)
            self._report(done)
        self._finish(pending)

    def run_array(self) -> None:
        """Every child in ONE launch (a Slurm job array: made by the submit itself, else
        here), followed until all have ended."""
        parent = self.store.get(self.parent_id)
        if parent.target_state.slurm_job_id:
            for child in self.children:          # what the submit did, in the sweep's log
                self._report(child)
        else:
            limit = (parent.config_snapshot.get("sweep") or {}).get("max_concurrent_runs")
            children = [(child, child_arguments(self.args, self.points[child]))
                        for child in self.children]
            start_array(self.ws, self.parent_id, children, runconfig=self.runconfig,
                        script=self.script, overrides=self.overrides,
                        allow_unsafe=self.allow_unsafe, limit=int(limit) if limit else None,
                        report=self._report)
        mirror_records(self.store, self.children)   # folders and record.json, off the submit
        started = [r.run_id for r in get_many(self.store, self.children)
                   if r.target_state.run_dir]
        follow(self.ws, started, canceled=self.canceled, report=self._report)
        self._finish(deque(c for c in self.children if c not in set(started)))

    def _start(self, child: str) -> bool:
        """Start one queued child; False if it was canceled meanwhile or failed to start."""
        if self.store.get(child).status is not RunStatus.QUEUED:
            return False
        args = child_arguments(self.args, self.points[child])
        try:
            run = self.ws.submit(self.runconfig, self.script, args, queued_as=child,
                                 frozen_snapshot=self.store.run_dir(self.parent_id),
                                 overrides=self.overrides or None, on_warning=lambda _t: None,
                                 allow_unsafe_container=self.allow_unsafe)
        except AmlError as exc:
            record = self.store.get(child)
            if not record.status.is_terminal():       # failed before it was filled in
                self.store.set_status(child, RunStatus.FAILED, reason=str(exc))
            self._report(child)
            return False
        self._report(child)
        self._follow(child, run)
        return True

    def _follow(self, child: str, run: Run) -> None:
        """Wait for the child's end in a thread; the loop hears of it through ``ended``."""
        def wait() -> None:
            try:
                run.wait()
            finally:
                self.ended.put(child)
        threading.Thread(target=wait, name=f"aml-sweep-{child}", daemon=True).start()

    def _report(self, child: str) -> None:
        record = self.store.get(child)
        self.note(progress_line(child, record.command, record.status.value, record.reason))

    def _finish(self, pending: deque[str]) -> None:
        """Children never started are Canceled (the sweep was canceled); the parent gets the
        summary of its children's statuses unless it was canceled already."""
        for child in pending:
            if self.store.set_status(child, RunStatus.CANCELED,
                                     reason="sweep canceled before this run started"):
                self._report(child)
        if self.canceled():
            self.note(f"sweep {self.parent_id}: Canceled\n")
            return
        status, reason = summarize(self.store, self.parent_id)
        self.note(f"sweep {self.parent_id}: {status.value}"    # before: followers stop at it
                  + (f" ({reason})" if reason else "") + "\n")
        self.store.set_status(self.parent_id, status, reason=reason)


def drive_in_thread(ws: Workspace, parent_id: str, *, resumed: str | None = None) -> None:
    """Drive the sweep in a thread of this long-lived process (the team server, whose key
    store its children's targets need), with its open workspace; returns once the driver has
    taken the sweep over. Should the process stop first, its next start takes the sweep over
    again (``resume_sweeps``; a look meanwhile settles it as for a driver that died,
    ``sweep.settle_orphaned_sweep``)."""
    driver = SweepDriver(ws, parent_id)
    driver.take_over(resumed=resumed)

    def drive() -> None:
        try:
            _run_or_fail(ws, driver, parent_id)
        finally:
            driver.log.close()
    threading.Thread(target=drive, name=f"aml-sweep-driver-{parent_id}", daemon=True).start()


def resume_sweeps(ws: Workspace) -> list[str]:
    """On the team server's start: take over again, in threads of this process, the sweeps of
    WS whose driver (a thread of the server before it stopped) is gone. The children it had
    started are followed to their ends, the queued ones are started as before; a child it was
    launching when it stopped fails as any run whose submitter died (``fail_if_abandoned``).
    A sweep launched as one job array is left to its children (``settle_orphaned_sweep``).
    Returns the sweeps' ids."""
    resumed: list[str] = []
    for parent in ws.store.active_runs():
        folder = ws.store.run_dir(parent.run_id)
        if parent.kind != "sweep" or abandoned_reason(folder, parent.created_at) is None:
            continue
        sweep = parent.config_snapshot.get("sweep") or {}
        if array_target(ws, str(sweep.get("runconfig") or parent.run_configuration),
                        dict(sweep.get("overrides") or {})) is not None:
            continue
        for child in get_many(ws.store, [str(c["run_id"]) for c in children_of(parent)]):
            if child.status is not RunStatus.QUEUED and not child.target_state.run_dir:
                fail_if_abandoned(ws.store, child)   # its launch stopped with the driver
        pid = submitter_pid(folder)
        drive_in_thread(ws, parent.run_id, resumed=f"after the server restarted (its "
                        f"driver, pid {pid or '?'}, had stopped)")
        resumed.append(parent.run_id)
    return resumed


def main(argv: list[str]) -> int:
    root, parent_id = argv
    ws = Workspace(root)
    driver = SweepDriver(ws, parent_id)
    driver.take_over()                   # if this fails, the submitter fails the sweep
    try:
        sys.stdout.write("ready\n")      # the submitter waits for this line
        sys.stdout.flush()
    except OSError:                      # an array's submitter need not wait: it may be gone
        pass
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    try:
        _run_or_fail(ws, driver, parent_id)
    finally:
        ws.close()
    return 0


def _run_or_fail(ws: Workspace, driver: SweepDriver, parent_id: str) -> None:
    """Drive the sweep; a bug must not leave it Running forever: the sweep fails, saying so."""
    try:
        driver.run()
    except BaseException as exc:
        fail_sweep(ws.store, parent_id, f"the sweep driver stopped: {exc!r}")
        raise


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
