"""A sweep as ONE launch on targets that take many runs at once (a Slurm job array): the
driver records the queued children as ``Workspace.submit`` would (the first in full, the others
sharing its checks, snapshot and configuration, in one history write), then one
``target.submit_array`` starts them all, the throttle being the sweep's
``max_concurrent_runs`` (``--array=0-(N-1)%K``). The scheduler, not the driver, decides when
each child runs; the driver only follows them (one ``squeue`` per poll for all of them) and
notes their changes in the parent's log. A canceled sweep is one ``scancel`` of the array
(``cancel_array``).
"""
from __future__ import annotations

import os
import time

from aml_magic.domain.history.batch import get_many, set_status_many
from aml_magic.domain.history.status import RunStatus
from aml_magic.domain.plain_data import replace
from aml_magic.domain.provenance import interpreter_provenance
from aml_magic.domain.secrets import Masker
from aml_magic.domain.target_state import TargetState
from aml_magic.errors import AmlError
from aml_magic.service.argument_masking import argument_candidates, mask_arguments

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from aml_magic.service.workspace import Workspace
    from aml_magic.targets.base import Launched, LaunchRequest, Target

#: What every child of one array shares with the first (the rest of ``sweep._FILLED``).
_SHARED = ("run_configuration", "target", "target_type", "config_snapshot", "environment",
           "snapshot_digest", "git_commit", "git_dirty")
#: Seconds between two looks at the array's children (each look is one squeue).
POLL_SECONDS = 1.0


def array_target(ws: Workspace, runconfig: str, overrides: dict[str, Any] | None) -> Any:
    """The sweep's target when it launches job arrays (``submit_array``), else None."""
    try:
        rc = ws.config.runconfig(runconfig)
        if overrides:
            rc = replace(rc, **overrides)
        target = ws.target_for(ws.config.target_of(rc))
    except AmlError:
        return None
    return target if callable(getattr(target, "submit_array", None)) else None


def start_array(ws: Workspace, parent_id: str, children: list[tuple[str, list[str]]], *,
                runconfig: str, script: str | None, overrides: dict[str, Any] | None,
                allow_unsafe: bool, limit: int | None,
                report: Callable[[str], None]) -> list[str]:
    """Record the Queued children of ``children`` (id, arguments) started, launch them as one
    array; the ids launched. The first child goes through ``Workspace.record_submit`` (the
    checks, configuration, snapshot and git state every child shares); the others get what it
    got, their own arguments, and ONE history write for all (``history/batch.py``). A refused
    array fails every recorded child with the scheduler's message."""
    store = ws.store
    queued = {r.run_id for r in store.children(parent_id) if r.status is RunStatus.QUEUED}
    todo = [(child, args) for child, args in children if child in queued]
    if not todo:
        return []
    first, first_args = todo[0]
    store.run_dir(first, create=True)    # the others' folders: mirror_records, by the driver
    try:
        target, request = ws.record_submit(
            runconfig, script, first_args, queued_as=first, overrides=overrides or None,
            frozen_snapshot=store.run_dir(parent_id), on_warning=lambda _t: None,
            allow_unsafe_container=allow_unsafe)
    except AmlError as exc:       # the checks and the configuration are every child's
        if store.get(parent_id).status.is_terminal():
            return []             # canceled meanwhile: the driver cancels the rest
        set_status_many(store, [(child, {}) for child, _ in todo], RunStatus.FAILED,
                        reason=str(exc))
        for child, _ in todo:
            report(child)
        return []
    requests = [request, *_siblings(ws, target, request, todo[1:], script, report)]
    array_target_: Any = target
    submit_array = array_target_.submit_array
    try:
        with ws.target_lock(target.compute.name):
            launched = submit_array(requests, name=parent_id, limit=limit)
    except AmlError as exc:
        set_status_many(store, [(r.run_id, {"ended_at": time.time()}) for r in requests],
                        RunStatus.FAILED, reason=str(exc))
        for one in requests:
            report(one.run_id)
        return []
    _record_launched(ws, target, requests, launched)
    for one in requests:
        report(one.run_id)
    array_id = str(launched[0].state.slurm_job_id or "").split("_")[0] or None
    store.update(parent_id, target_state=TargetState(driver_pid=os.getpid(),
                                                     slurm_job_id=array_id))
    return [one.run_id for one in requests]


def _siblings(ws: Workspace, target: Target, request: LaunchRequest,
              children: list[tuple[str, list[str]]], script: str | None,
              report: Callable[[str], None]) -> list[LaunchRequest]:
    """The launch requests of the other children: ``request`` with each one's arguments, all
    moved to Preparing in one transaction (one canceled meanwhile is left out)."""
    store = ws.store
    record = store.get(request.run_id)
    rc = request.runconfig
    relative = ws._project_relative(script) if script is not None else None
    candidates = argument_candidates(Masker(request.secret_values), target.compute, ws.secrets)
    common = {name: getattr(record, name) for name in _SHARED}
    changes: list[tuple[str, dict[str, Any]]] = []
    planned: dict[str, LaunchRequest] = {}
    for child, args in children:
        command = [str(item) for item in rc.resolve_arguments(relative, list(args))]
        shown, found = mask_arguments(command, candidates)
        changes.append((child, {**common, "command": shown, "script": shown[0]}))
        secret_values = list(dict.fromkeys([*request.secret_values, *found.values()]))
        planned[child] = replace(request, run_id=child, command=command,
                                 run_folder=store.run_dir(child), secret_values=secret_values)
    started = set(set_status_many(store, changes, RunStatus.PREPARING))
    out = []
    for child, one in planned.items():
        if child not in started:           # canceled before it started
            report(child)
            continue
        out.append(one)    # no manifest.json of its own: the sweep's, kept by digest (gc.py)
    return out


def _record_launched(ws: Workspace, target: Target, requests: list[LaunchRequest],
                     launched: list[Launched]) -> None:
    """``Workspace.record_launched`` for every task of the array, in one transaction (their
    record.json files: ``mirror_records``, by the driver); a child canceled while the array
    was submitted has its task canceled."""
    now = time.time()
    groups: dict[RunStatus, list[tuple[str, dict[str, Any]]]] = {}
    states = {}
    for request, one in zip(requests, launched):
        state = one.state
        if state.launched_at is None:
            state.launched_at = now
        states[request.run_id] = state
        fields = {"target_state": state, "environment_hash": request.environment_hash,
                  "provenance": interpreter_provenance(one.python_facts,
                                                       target.compute.python_location),
                  "started_at": None if one.queued else now}
        groups.setdefault(RunStatus.QUEUED if one.queued else RunStatus.RUNNING,
                          []).append((request.run_id, fields))
    changed: set[str] = set()
    for status, changes in groups.items():
        changed.update(set_status_many(ws.store, changes, status, at=now, mirror=False))
    unchanged = [run_id for run_id in states if run_id not in changed]
    for record in get_many(ws.store, unchanged):
        if record.status.is_terminal():
            target.cancel(states[record.run_id])      # canceled while it was starting


def follow(ws: Workspace, started: list[str], *, canceled: Callable[[], bool],
           report: Callable[[str], None]) -> None:
    """Reconcile the launched children until all have ended (or the sweep is canceled),
    reporting each status change."""
    seen = {run_id: ws.store.get(run_id).status for run_id in started}
    while not canceled():
        active = [run_id for run_id, status in seen.items() if not status.is_terminal()]
        if not active:
            return
        for run_id in active:
            status = ws.run(run_id).refresh().status
            if status is not seen[run_id]:
                seen[run_id] = status
                report(run_id)
        time.sleep(POLL_SECONDS)


def cancel_array(ws: Workspace, parent_id: str) -> bool:
    """One ``scancel`` of the sweep's array, its children not yet ended marked Canceled;
    False when the sweep has no array."""
    parent = ws.store.get(parent_id)
    array_id = parent.target_state.slurm_job_id
    if not array_id:
        return False
    run_dirs = [str(ws.store.get(child["run_id"]).target_state.run_dir or "")
                for child in (parent.config_snapshot.get("sweep") or {}).get("children", [])
                if isinstance(child, dict) and "run_id" in child]
    try:
        compute = ws.config.compute(parent.target)
        target: Any = ws.target_for(compute)
        target.cancel_array(array_id, [d for d in run_dirs if d])
    except AmlError:
        return False
    return True


__all__ = ["array_target", "cancel_array", "follow", "start_array"]
