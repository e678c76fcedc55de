"""A sweep as ONE launch on targets that take many runs at once (a Slurm job array): the
driver records every queued child as ``Workspace.submit`` would (its snapshot, configuration
and launch spec), then one ``target.submit_array`` starts them all, the throttle being the
sweep's ``max_concurrent_runs`` (``--array=0-(N-1)%K``). The scheduler, not the driver,
decides when each child runs; the driver only follows them (one ``squeue`` per poll for all of
them) and notes their changes in the parent's log. A canceled sweep is one ``scancel`` of the
array (``cancel_array``).
"""
from __future__ import annotations

import os
import time

from aml_magic.domain.history.status import RunStatus
from aml_magic.domain.plain_data import replace
from aml_magic.domain.target_state import TargetState
from aml_magic.errors import AmlError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from aml_magic.service.workspace import Workspace
    from aml_magic.targets.base import LaunchRequest, Target

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
    """Record each Queued child of ``children`` (id, arguments), launch them as one array;
    the ids launched. A child that cannot be recorded fails alone; a refused array fails
    every recorded child with the scheduler's message."""
    store = ws.store
    target: Target | None = None
    requests: list[LaunchRequest] = []
    for child, args in children:
        if store.get(child).status is not RunStatus.QUEUED:
            continue
        try:
            target, request = ws.record_submit(
                runconfig, script, args, queued_as=child, overrides=overrides or None,
                frozen_snapshot=store.run_dir(parent_id), on_warning=lambda _t: None,
                allow_unsafe_container=allow_unsafe)
        except AmlError as exc:
            if not store.get(child).status.is_terminal():
                store.set_status(child, RunStatus.FAILED, reason=str(exc))
            report(child)
            continue
        requests.append(request)
    if target is None or not requests:
        return []
    array_target_: Any = target
    submit_array = array_target_.submit_array
    try:
        with ws.target_lock(target.compute.name):
            launched = submit_array(requests, name=parent_id, limit=limit)
    except AmlError as exc:
        for request in requests:
            store.update(request.run_id, ended_at=time.time())
            store.set_status(request.run_id, RunStatus.FAILED, reason=str(exc))
            report(request.run_id)
        return []
    for request, one in zip(requests, launched):
        ws.record_launched(target, request, one)
        report(request.run_id)
    array_id = str(launched[0].state.slurm_job_id or "").split("_")[0] or None
    store.update(parent_id, target_state=TargetState(driver_pid=os.getpid(),
                                                     slurm_job_id=array_id))
    return [request.run_id for request in requests]


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
