"""Bring one run's history up to date with what its agent wrote on the target.

Any process may do this at any time (a kernel, the CLI, the server); a per-run file lock makes
concurrent reconcilers take turns, and every step resumes from what history already holds (the
local log's size, the stored metrics offset), so no line or metric is lost or doubled.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from .errors import AmlError
from .history.records import Artifact, Metric, RunRecord
from .history.status import RunStatus
from .targets.base import AgentState, Target

#: How long a heartbeat may be late, in heartbeats, before the agent's process is checked.
STALE_HEARTBEATS = 1.5
#: How often ``./logs/`` of a live run is copied back (seconds), per run.
LOGS_DIR_INTERVAL = 2.0


@contextmanager
def run_lock(run_folder: Path) -> Iterator[None]:
    run_folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(run_folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def reconcile(store: Any, record: RunRecord, target: Target) -> RunRecord:
    """One pass: log, metrics, ``./logs/``, status; outputs when the run has ended."""
    run_folder = store.run_dir(record.run_id)
    with run_lock(run_folder):
        record = store.get(record.run_id)
        if record.status.is_terminal() or not record.target_state.get("run_dir"):
            return record
        state = target.read_state(record.target_state)
        target.sync_log(record.target_state, run_folder / "log.txt")
        _ingest_metrics(store, record, target)
        if state.is_final:
            _finish(store, record, target, state, run_folder)
        else:
            _check_alive(store, record, target, state)
            _maybe_collect_logs_dir(record, target, run_folder)
        return store.get(record.run_id)


def _ingest_metrics(store: Any, record: RunRecord, target: Target) -> None:
    offset = int(record.target_state.get("metrics_offset", 0))
    raw = target.read_metrics(record.target_state, offset)
    end = raw.rfind(b"\n") + 1           # only complete lines; the rest comes next time
    if end <= 0:
        return
    metrics: list[Metric] = []
    for line in raw[:end].splitlines():
        try:
            item = json.loads(line)
            metrics.append(Metric(str(item["name"]), item.get("value"), item.get("step"),
                                  item.get("time")))
        except (ValueError, KeyError, TypeError):
            continue                      # a foreign line in the file is not a metric
    state = dict(record.target_state, metrics_offset=offset + end)
    store.add_metrics(record.run_id, metrics, target_state=state)   # one transaction
    record.target_state = state


def _finish(store: Any, record: RunRecord, target: Target, state: AgentState,
            run_folder: Path) -> None:
    store.set_status(record.run_id, RunStatus.FINALIZING)
    outputs = run_folder / "outputs"
    refused = target.collect_outputs(record.target_state, outputs)
    target.collect_logs_dir(record.target_state, run_folder / "logs")
    store.set_artifacts(record.run_id, list(_artifacts(outputs)))
    reason = state.reason
    if refused:
        note = "refused output paths (symlinks or outside the run): " + ", ".join(refused[:10])
        reason = f"{reason}; {note}" if reason else note
    store.update(record.run_id, exit_code=state.exit_code,
                 started_at=record.started_at or state.started,
                 ended_at=state.ended or time.time())
    final = {"Completed": RunStatus.COMPLETED, "Canceled": RunStatus.CANCELED}.get(
        state.state, RunStatus.FAILED)
    store.set_status(record.run_id, final, reason=reason, at=state.ended)


def _check_alive(store: Any, record: RunRecord, target: Target, state: AgentState) -> None:
    beat = state.heartbeat or record.target_state.get("launched_at") or record.created_at
    if time.time() - beat < STALE_HEARTBEATS * state.heartbeat_seconds:
        return
    try:
        alive = target.agent_alive(record.target_state)
    except AmlError:
        return                            # unreachable is not dead: try again later
    if alive is not False:
        return
    state = target.read_state(record.target_state)      # it may have just finished
    if state.is_final:
        _finish(store, record, target, state, store.run_dir(record.run_id))
        return
    pid = record.target_state.get("agent_pid")
    if state.child_pgid:
        try:
            target.kill_group(record.target_state, state.child_pgid)
        except AmlError:
            pass
    store.update(record.run_id, ended_at=time.time())
    store.set_status(record.run_id, RunStatus.FAILED,
                     reason=f"the run agent (pid {pid}) on target '{record.target}' stopped "
                            "without recording an end state (killed, or the machine restarted)")


def _maybe_collect_logs_dir(record: RunRecord, target: Target, run_folder: Path) -> None:
    stamp = run_folder / ".logs-synced"
    try:
        if time.time() - stamp.stat().st_mtime < LOGS_DIR_INTERVAL:
            return
    except FileNotFoundError:
        pass
    target.collect_logs_dir(record.target_state, run_folder / "logs")
    stamp.touch()


def _artifacts(folder: Path) -> Iterator[Artifact]:
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            digest = hashlib.sha256()
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
            yield Artifact(path.relative_to(folder).as_posix(), path.stat().st_size,
                           digest.hexdigest())
