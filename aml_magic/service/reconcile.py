"""Bring one run's history up to date with what its agent wrote on the target.

Any process may do this at any time (a kernel, the CLI, the server); a per-run file lock makes
concurrent reconcilers take turns, and every step resumes from what history already holds (the
local log's size, the stored metrics offset), so no line or metric is lost or doubled.
"""
from __future__ import annotations

import fcntl
import os
import time
from aml_magic.domain.plain_data import replace
from pathlib import Path

from aml_magic.domain import runfolder
from aml_magic.errors import AmlError, UnsafeRunFile
from aml_magic.domain.history.records import RunRecord
from aml_magic.domain.history.status import RunStatus
from aml_magic.domain.hints import TAIL_BYTES, hint_from_log_file
from aml_magic.domain.module_hints import module_hint
from aml_magic.domain.nofollow import read_tail_nofollow
from aml_magic.domain.history.stale import fail_malformed
from aml_magic.service.observed_env import observed_environment
from aml_magic.targets.base import AgentState, Target

TYPE_CHECKING = False
if TYPE_CHECKING:   # typing is not imported at run time: ~5 % of a CLI start
    from typing import Any, Callable, TypeVar
    from aml_magic.domain.history.store import RunStore
    T = TypeVar("T")


#: How long a heartbeat may be late, in heartbeats, before the agent's process is checked.
STALE_HEARTBEATS = 1.5
#: How often ``./logs/`` of a live run is copied back (seconds), per run.
LOGS_DIR_INTERVAL = 2.0


class run_lock:
    """``with run_lock(folder):`` holds the run folder's lock (``flock``). A class, not a
    ``contextlib.contextmanager``: importing contextlib cost ~1 % of a CLI submit."""

    def __init__(self, run_folder: Path) -> None:
        self.run_folder = run_folder
        self.fd = -1

    def __enter__(self) -> None:
        self.run_folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = runfolder.open_lock(self.run_folder)   # never through a symlink the run planted
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd

    def __exit__(self, *exc_info: object) -> None:
        fd, self.fd = self.fd, -1
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def reconcile(store: RunStore, record: RunRecord, target: Target) -> RunRecord:
    """One pass: log, metrics, ``./logs/``, status; outputs when the run has ended. Whatever
    the run put in its folder costs that run only: a file the host must refuse fails it with
    the reason instead of failing every pass (and every listing) after it."""
    try:
        return _reconcile(store, record, target)
    except UnsafeRunFile as exc:
        _quietly(lambda: target.kill_group(record.target_state))
        store.update(record.run_id, ended_at=time.time())
        store.set_status(record.run_id, RunStatus.FAILED,
                         reason=f"the run folder holds what the host must refuse: {exc}")
        return store.get(record.run_id)


def _reconcile(store: RunStore, record: RunRecord, target: Target) -> RunRecord:
    run_folder = store.run_dir(record.run_id)
    with run_lock(run_folder):
        record = store.get(record.run_id)
        if record.status.is_terminal():
            return record
        if record.target_state.malformed:  # where it lives cannot be trusted: touch nothing
            return fail_malformed(store, record)
        if not record.target_state.run_dir:
            return record
        seen = replace(record.target_state)
        state = target.read_state(record.target_state)   # may note facts (Slurm's node)
        try:
            target.sync_log(record.target_state, run_folder / "log.txt")
        except UnsafeRunFile as exc:      # the run replaced its log: keep what was copied
            record.target_state = replace(record.target_state, log_refused=str(exc))
        if record.target_state != seen:   # facts the log or the scheduler named (Spark app, node)
            store.update(record.run_id, target_state=record.target_state)
        environment = observed_environment(record, state.observed_env)
        if environment is not None:       # as the run got it (Slurm's CUDA_VISIBLE_DEVICES)
            store.update(record.run_id, environment=environment)
        _ingest_metrics(store, record, target)
        if state.is_final:
            _finish(store, record, target, state, run_folder)
        elif state.state == "Queued":     # a scheduler holds it (Slurm): why, not a heartbeat
            store.set_status(record.run_id, RunStatus.QUEUED, reason=state.reason,
                             fields={"target_state": record.target_state,
                                     "reason": state.reason})
        else:
            if record.status is RunStatus.QUEUED:
                store.set_status(record.run_id, RunStatus.RUNNING,    # the wait's reason goes
                                 fields={"target_state": record.target_state, "reason": None})
            _check_alive(store, record, target, state)
            _maybe_collect_logs_dir(record, target, run_folder)
        return store.get(record.run_id)


def _ingest_metrics(store: RunStore, record: RunRecord, target: Target) -> None:
    """Up to ``METRICS_CHUNKS_PER_PASS`` bounded reads (a huge or endless file costs a few MB
    per pass); lines that are not valid metrics are counted, overlong ones skipped."""
    if record.target_state.metrics_refused:
        return
    for _chunk in range(runfolder.METRICS_CHUNKS_PER_PASS):
        state = record.target_state
        offset = state.metrics_offset or 0
        try:
            raw = target.read_metrics(state, offset, runfolder.METRICS_CHUNK)
        except UnsafeRunFile as exc:
            record.target_state = replace(state, metrics_refused=str(exc))
            store.update(record.run_id, target_state=record.target_state)
            return
        chunk = runfolder.parse_metrics_chunk(raw, skipping=bool(state.metrics_skipping))
        if chunk.consumed == 0:
            return
        new = replace(state, metrics_offset=offset + chunk.consumed,
                      metrics_skipping=chunk.skipping,
                      metrics_rejected=(state.metrics_rejected or 0) + chunk.rejected)
        store.add_metrics(record.run_id, chunk.metrics, target_state=new)   # one transaction
        record.target_state = new
        if len(raw) < runfolder.METRICS_CHUNK:
            return


def _finish(store: RunStore, record: RunRecord, target: Target, state: AgentState,
            run_folder: Path) -> None:
    store.set_status(record.run_id, RunStatus.FINALIZING)
    if state.malformed:                   # the run forged its status: stop what is left of it
        _quietly(lambda: target.kill_group(record.target_state))
    try:
        refused = target.collect_outputs(record.target_state, run_folder / "outputs")
    except (AmlError, OSError, ValueError) as exc:   # e.g. a name the transport cannot decode
        refused = [f"outputs/ ({exc})"]
    _quietly(lambda: target.collect_logs_dir(record.target_state, run_folder / "logs"))
    store.set_artifacts(record.run_id, runfolder.tree_manifest(run_folder, "outputs"))
    notes = [state.reason] if state.reason else []
    if refused:
        notes.append("refused output paths (symlinks or outside the run): "
                     + ", ".join(refused[:10]))
    rejected = record.target_state.metrics_rejected
    if rejected:
        notes.append(f"{rejected} line(s) of metrics.jsonl were not metrics and were skipped")
    if record.target_state.log_refused:
        notes.append(f"log not copied further: {record.target_state.log_refused}")
    if record.target_state.metrics_refused:
        notes.append(f"metrics not read: {record.target_state.metrics_refused}")
    reason = "; ".join(notes) or None
    final = {"Completed": RunStatus.COMPLETED, "Canceled": RunStatus.CANCELED}.get(
        state.state, RunStatus.FAILED) if not state.malformed else RunStatus.FAILED
    fields: dict[str, Any] = {"exit_code": state.exit_code,
                              "started_at": record.started_at or state.started,
                              "ended_at": state.ended or time.time()}
    if record.status is RunStatus.QUEUED:     # the scheduler's wait is not why it ended
        fields["reason"] = reason
    if final is RunStatus.FAILED:         # a Workbench module the run lacked: say what instead
        hint = hint_from_log_file(run_folder / "log.txt") or \
            _module_hint(run_folder / "log.txt", record)     # or a package its Python lacked
        if hint:
            fields["provenance"] = {**record.provenance, "hint": hint}
    store.set_status(record.run_id, final, reason=reason, at=state.ended,   # one transaction
                     fields=fields)


def _module_hint(log: Path, record: RunRecord) -> str | None:
    """``module_hints.module_hint`` over the tail of the run's log."""
    tail = read_tail_nofollow(log, TAIL_BYTES)
    return module_hint(tail.decode("utf-8", "replace"), record.config_snapshot) if tail else None


def _check_alive(store: RunStore, record: RunRecord, target: Target, state: AgentState) -> None:
    beat = state.heartbeat or record.target_state.launched_at or record.created_at
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
    pid = record.target_state.agent_pid
    _quietly(lambda: target.kill_group(record.target_state))   # the session recorded at launch
    store.update(record.run_id, ended_at=time.time())
    store.set_status(record.run_id, RunStatus.FAILED,
                     reason=f"the run agent (pid {pid}) on target '{record.target}' stopped "
                            "without recording an end state (killed, or the machine restarted)")


def _maybe_collect_logs_dir(record: RunRecord, target: Target, run_folder: Path) -> None:
    stamp = run_folder / ".logs-synced"
    try:
        if time.time() - stamp.lstat().st_mtime < LOGS_DIR_INTERVAL:
            return
    except FileNotFoundError:
        pass
    _quietly(lambda: target.collect_logs_dir(record.target_state, run_folder / "logs"))
    _quietly(lambda: runfolder.write_marker(run_folder, stamp.name, b""))


def _quietly(action: Callable[[], T]) -> T | None:
    """Run one finishing step; an unreachable target or a refused file costs that step only."""
    try:
        return action()
    except (AmlError, OSError):
        return None
