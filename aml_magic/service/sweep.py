"""Sweeps: one submit runs a script over a grid of argument values, as child runs of one parent.

``--sweep reg=10,5,2.5 --sweep depth=3,5`` makes the cartesian product in the order given
(``reg=10 depth=3``, ``reg=10 depth=5``, ``reg=5 depth=3``, ...). Each child runs the script with
the submit's own arguments followed by ``--reg 10 --depth 3``; a parameter the arguments name as
``{reg}`` is put there instead and not appended.

The parent (``kind="sweep"``) is recorded first, then every child as Queued (``parent_run_id``
set), then a detached driver process (``sweep_driver.py``) starts them through
``Workspace.submit`` at most ``maxConcurrentRuns`` at a time, so the sweep outlives the
notebook or the ``aml`` command that submitted it. The driver notes itself as the submitter of
the parent, which stands for the queued children: if it dies, the next look fails the children
it had not started (``history/stale.py``, as for any run whose submitter died before launching it), and the
parent follows the children it had started: Running while any runs, then ended as they ended,
its reason naming the driver (``settle_orphaned_sweep``). On a target that takes a job array
(Slurm) the submit launches every child itself as ONE array (``sweep_array.start_array``) and
does not wait for the driver, which then only follows them.
"""
from __future__ import annotations

import itertools
import os
import re
import sys
import time
from aml_magic.domain.plain_data import plain_data
from pathlib import Path

from aml_magic.errors import AmlError
from aml_magic.domain.config import config_snapshot
from aml_magic.domain.history.batch import create_runs
from aml_magic.domain.history.manifests import keep_manifest
from aml_magic.domain.nofollow import write_marker
from aml_magic.domain.history.records import RunRecord
from aml_magic.domain.history.stale import abandoned_reason, mark_submitter, submitter_pid
from aml_magic.domain.isolation import permit
from aml_magic.domain.history.status import RunStatus
from aml_magic.domain.envvars import resolve_env
from aml_magic.domain.secrets import Masker
from aml_magic.domain.snapshot.gitinfo import git_info
from aml_magic.domain.snapshot.manifest import take_snapshot
from aml_magic.domain.snapshot.ship import materialize
from aml_magic.service.argument_masking import argument_candidates, mask_arguments
from aml_magic.service.run import Run
from aml_magic.service.sweep_array import array_target, cancel_array, start_array

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Mapping, Sequence
    from aml_magic.domain.history.store import RunStore
    from aml_magic.domain.snapshot.manifest import Manifest
    from aml_magic.service.workspace import Workspace

# compiled by `re` on first use (its cache): only sweeps need them
_NAME = r"[A-Za-z_][A-Za-z0-9_.-]*"
_PLACEHOLDER = r"\{([A-Za-z_][A-Za-z0-9_.-]*)\}"
#: How long the submitter waits for the driver to take the sweep over.
DRIVER_START_SECONDS = 30.0
#: The fields a queued child gets when the driver starts it (the rest were set at submit).
_FILLED = ("run_configuration", "target", "target_type", "command", "script",
           "config_snapshot", "environment", "snapshot_digest", "git_commit", "git_dirty")


@plain_data(frozen=True)
class Parameter:
    """One ``--sweep NAME=V1,V2,...``."""

    name: str
    values: tuple[str, ...]


def parse_sweep(specs: Sequence[str]) -> list[Parameter]:
    """The parameters of ``--sweep`` options, in the order given; one clear error if bad."""
    parameters: list[Parameter] = []
    for spec in specs:
        name, sep, rest = spec.partition("=")
        values = tuple(v.strip() for v in rest.split(","))
        if not sep or not re.fullmatch(_NAME, name.strip()) or not rest.strip() \
                or any(not v for v in values):
            raise AmlError(f"--sweep {spec!r}: expected NAME=VALUE[,VALUE...] with a name of "
                           "letters, digits, '_', '.' or '-' and no empty value (e.g. "
                           "--sweep reg=10,5,2.5)")
        name = name.strip()
        if any(p.name == name for p in parameters):
            raise AmlError(f"--sweep {name} is given twice: list all its values in one option "
                           f"(--sweep {name}=V1,V2)")
        parameters.append(Parameter(name, values))
    return parameters


def grid(parameters: Sequence[Parameter]) -> list[dict[str, str]]:
    """The cartesian product, first parameter slowest, each in the order its values were given."""
    return [dict(zip((p.name for p in parameters), combo))
            for combo in itertools.product(*(p.values for p in parameters))]


def child_arguments(args: Sequence[str], point: Mapping[str, str]) -> list[str]:
    """The script's arguments for one grid point: ``{name}`` placeholders filled in, then
    ``--name value`` for each parameter no placeholder used."""
    used: set[str] = set()

    def fill(match: re.Match[str]) -> str:
        if match.group(1) in point:
            used.add(match.group(1))
            return point[match.group(1)]
        return match.group(0)
    filled = [re.sub(_PLACEHOLDER, fill, arg) for arg in args]
    for name, value in point.items():
        if name not in used:
            filled += [f"--{name}", value]
    return filled


# -- submit -----------------------------------------------------------------------------------
def submit_sweep(ws: Workspace, runconfig_name: str, script: str | None, args: Sequence[str],
                 specs: Sequence[str], *, overrides: Mapping[str, Any] | None = None,
                 allow_unsafe_container: bool = False,
                 max_concurrent: int | None = None,
                 start_driver: Callable[[Workspace, str], None] | None = None) -> Run:
    """Record the parent and its Queued children, start the driver; return the parent's
    ``Run`` once the driver has taken the sweep over (well under a second).
    ``allow_unsafe_container`` holds for every child (``Workspace.submit``).
    ``max_concurrent`` (``--max-concurrent K``) replaces the target's ``maxConcurrentRuns``
    for this sweep; on a Slurm target without either, the scheduler alone decides.
    ``start_driver`` drives the sweep instead of a detached driver process (the team server:
    its children need the server's key store, which only its own process holds); it returns
    once the driver has taken the sweep over."""
    import dataclasses

    parameters = parse_sweep(specs)
    points = grid(parameters)
    rc = ws.config.runconfig(runconfig_name)
    if overrides:
        rc = dataclasses.replace(rc, **overrides)
    compute = ws.config.target_of(rc)
    isolation = permit(compute, project_root=ws.root, allow_unsafe=allow_unsafe_container)
    if script is not None:
        script = ws._project_relative(script)
        if not (ws.root / script).is_file():
            raise AmlError(f"script '{script}' is not in the project {ws.root}")
    base = [str(item) for item in rc.resolve_arguments(script, list(args))]
    if not base:
        raise AmlError(f"run configuration '{rc.name}' has an empty ArgumentVector and no "
                       "script was given: name a script to run")
    manifest = take_snapshot(ws.root)
    if base[0].endswith(".py") and base[0] not in manifest.files:
        raise AmlError(f"script '{base[0]}' is not in the project {ws.root} (or "
                       ".amlignore/.gitignore excludes it)")
    store = ws.store
    parent_id = store.new_run_id(ws.name)
    children: list[str] = []
    while len(children) < len(points):  # 100s made in one millisecond: 4 hex digits collide
        child = store.new_run_id(ws.name)
        if child != parent_id and child not in children:
            children.append(child)
    snapshot = config_snapshot(rc, compute)
    snapshot["sweep"] = {
        "parameters": [[p.name, list(p.values)] for p in parameters],
        "max_concurrent_runs": _concurrency(compute, max_concurrent), "script": script,
        "args": list(args),
        "overrides": dict(overrides or {}), "runconfig": runconfig_name,
        "allow_unsafe_container": allow_unsafe_container,
        "children": [{"run_id": child, "point": point}
                     for child, point in zip(children, points)]}
    if isolation is not None:
        snapshot["isolation"] = isolation

    try:
        run_secrets = resolve_env(rc.environment_variables, ws.secrets)[1]
    except (AmlError, ValueError):      # each child's submit reports it
        run_secrets = Masker(())

    candidates = argument_candidates(run_secrets, compute, ws.secrets)

    def record(run_id: str, command: list[str]) -> RunRecord:
        shown = mask_arguments(command, candidates)[0]
        return RunRecord(run_id=run_id, project=ws.name, run_configuration=rc.name,
                         target=compute.name, target_type=compute.type, command=shown,
                         script=shown[0])
    commit, dirty = git_info(ws.root)
    records = [dataclasses.replace(record(parent_id, base), kind="sweep",
                                   config_snapshot=snapshot, snapshot_digest=manifest.digest,
                                   git_commit=commit, git_dirty=dirty)]
    for child, point in zip(children, points):
        command = [base[0], *child_arguments(base[1:], point)]
        records.append(dataclasses.replace(record(child, command), parent_run_id=parent_id))
    array = array_target(ws, runconfig_name, dict(overrides or {})) is not None
    # one history write for the parent and every child; an array's children get their run
    # folders from the driver, once the array is in the scheduler
    create_runs(store, records, deferred=frozenset(children) if array else ())
    _freeze_snapshot(ws, parent_id, manifest)
    if array:
        # ONE launch for every child (a Slurm job array), from this process: its connection
        # to the login node is open, so the scheduler has the sweep before a driver process
        # has started and connected; the driver then only follows the children, and is not
        # waited for (a thread here is: if it cannot start, the array is canceled and the
        # sweep failed; if this process ends first, the sweep's next look settles the parent
        # from its children, ``settle_orphaned_sweep``)
        mark_submitter(store.run_dir(parent_id))   # this process launches them (stale.py)
        try:
            start_array(ws, parent_id, [(child, child_arguments(list(args), point))
                                        for child, point in zip(children, points)],
                        runconfig=runconfig_name, script=script,
                        overrides=dict(overrides or {}), allow_unsafe=allow_unsafe_container,
                        limit=snapshot["sweep"]["max_concurrent_runs"], report=lambda _c: None)
        except BaseException as exc:      # a bug must not leave the sweep Queued
            fail_sweep(store, parent_id, f"the sweep's submit stopped: {exc!r}")
            raise
        if start_driver is not None:
            start_driver(ws, parent_id)
            return Run(ws, parent_id)
        import threading
        proc = _spawn_driver(ws, parent_id)
        threading.Thread(target=_await_driver, args=(ws, parent_id, proc, False),
                         name=f"aml-sweep-driver-{parent_id}", daemon=True).start()
        return Run(ws, parent_id)
    if start_driver is not None:
        try:
            start_driver(ws, parent_id)
        except BaseException as exc:      # the sweep must not stay Queued
            fail_sweep(store, parent_id, f"the sweep driver did not start: {exc!r}")
            raise
    else:
        _await_driver(ws, parent_id, _spawn_driver(ws, parent_id))
    return Run(ws, parent_id)


def _concurrency(compute: Any, given: int | None) -> int | None:
    """How many children run at once: ``--max-concurrent``, ``maxConcurrentRuns``, or the
    target's default (None on Slurm: the array is not throttled)."""
    if given is not None:
        if given < 1:
            raise AmlError(f"--max-concurrent {given}: give a number of runs, 1 or more")
        return given
    if compute.type == "slurm" and compute.max_concurrent_runs is None:
        return None
    return int(compute.concurrency())


def _freeze_snapshot(ws: Workspace, parent_id: str, manifest: Manifest) -> None:
    """Copy the project's files as they are now into the parent's run folder (``work/`` and
    ``manifest.json``): every child runs these, whenever it starts, so editing the project
    during a sweep changes none of its runs. Each copy is checked against the snapshot (a file
    edited after the snapshot was taken but before it was copied would otherwise reach every
    child under the snapshot's digest); such an edit fails the sweep before anything runs."""
    folder = ws.store.run_dir(parent_id)
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        materialize(manifest, ws.root, folder / "work", verify=True)
        write_marker(folder, "manifest.json", manifest.to_json().encode())
        keep_manifest(ws.store.aml_dir, manifest)   # restore's copy (history/manifests.py)
    except (OSError, AmlError) as exc:
        reason = f"could not keep the sweep's snapshot in {folder}: {exc}"
        fail_sweep(ws.store, parent_id, reason)
        raise AmlError(f"sweep {parent_id}: {reason}") from None


def _spawn_driver(ws: Workspace, parent_id: str) -> Any:
    """Start ``sweep_driver`` in its own session (a ``Popen``). It runs in the parent's run
    folder, not the project's: ``-m`` puts the working folder first on ``sys.path``, where a
    project's ``queue.py`` would replace the module the driver imports."""
    import subprocess   # only for a sweep: `aml experiment submit` of one run never starts one
    folder = ws.store.run_dir(parent_id)
    env = dict(os.environ)
    package_parent = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH"))
                                        if p)
    with open(os.open(folder / "driver.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT
                      | os.O_CLOEXEC, 0o600), "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "aml_magic.service.sweep_driver", str(ws.root), parent_id],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
            start_new_session=True, close_fds=True, env=env, cwd=str(folder))
    return proc


def _await_driver(ws: Workspace, parent_id: str, proc: Any, raise_error: bool = True) -> None:
    """Wait until the driver has noted itself as the sweep's submitter (its first line); a
    driver that cannot start fails the sweep (and cancels its array, if launched)."""
    folder = ws.store.run_dir(parent_id)
    assert proc.stdout is not None
    import selectors
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        ready = selector.select(DRIVER_START_SECONDS)
    line = proc.stdout.readline() if ready else b""
    proc.stdout.close()
    if line.strip() != b"ready":
        if proc.poll() is None:
            proc.kill()
        reason = f"the sweep driver did not start (see {folder / 'driver.log'})"
        try:
            cancel_array(ws, parent_id)   # launched already (a job array): nothing would follow
            fail_sweep(ws.store, parent_id, reason)
        except Exception:                 # a thread's (the workspace closed): history says
            if raise_error:
                raise
        if raise_error:
            raise AmlError(f"sweep {parent_id}: {reason}")


# -- the driver's and the canceller's shared steps ---------------------------------------------
def children_of(parent: RunRecord) -> list[dict[str, Any]]:
    """The parent's children in grid order: ``{"run_id": ..., "point": {name: value}}``."""
    sweep = parent.config_snapshot.get("sweep") or {}
    return [c for c in sweep.get("children", []) if isinstance(c, dict) and "run_id" in c]


def fill_queued_child(store: RunStore, record: RunRecord) -> None:
    """``Workspace.submit(queued_as=...)``: the child recorded Queued at the sweep's submit
    gets what its start found (snapshot, configuration, git state); kind and parent stay."""
    store.update(record.run_id, **{name: getattr(record, name) for name in _FILLED})


def fail_sweep(store: RunStore, parent_id: str, reason: str) -> None:
    """Fail the parent and every child that has not started, with ``reason``."""
    parent = store.get(parent_id)
    for child in children_of(parent):
        record = store.get(child["run_id"])
        if record.status is RunStatus.QUEUED:
            store.set_status(record.run_id, RunStatus.FAILED, reason=reason)
    store.set_status(parent_id, RunStatus.FAILED, reason=reason)


def summarize(store: RunStore, parent_id: str) -> tuple[RunStatus, str | None]:
    """The parent's final status from its children's: Failed if any failed, else Canceled if
    any was canceled, else Completed."""
    records = [store.get(c["run_id"]) for c in children_of(store.get(parent_id))]
    failed = [r.run_id for r in records if r.status is RunStatus.FAILED]
    canceled = [r.run_id for r in records if r.status is RunStatus.CANCELED]
    total = len(records)
    if failed:
        return RunStatus.FAILED, (f"{len(failed)} of {total} child runs failed: "
                                  + ", ".join(failed[:5]) + (", ..." if len(failed) > 5 else ""))
    if canceled:
        return RunStatus.CANCELED, f"{len(canceled)} of {total} child runs were canceled"
    return RunStatus.COMPLETED, None


def settle_orphaned_sweep(ws: Workspace, parent: RunRecord) -> RunRecord:
    """A look at a sweep's parent (``Workspace.settle_unlaunched``): while its driver lives,
    unchanged. Once the driver is gone, its children are looked at (those never started fail,
    their submitter being gone); the parent stays Running while a started child runs, then
    ends as its children did, the reason naming the driver."""
    folder = ws.store.run_dir(parent.run_id)
    if parent.status.is_terminal() or abandoned_reason(folder, parent.created_at) is None:
        return parent
    children = [ws.run(child["run_id"]).refresh() for child in children_of(parent)]
    fresh = ws.store.get(parent.run_id)
    if fresh.status.is_terminal() or not all(c.status.is_terminal() for c in children):
        return fresh
    status, why = summarize(ws.store, parent.run_id)
    driver = (f"the sweep driver (pid {submitter_pid(folder) or '?'}) stopped before the sweep "
              "ended (killed, or the machine restarted)")
    ends = [c.ended_at for c in children if c.ended_at is not None]
    ws.store.update(parent.run_id, ended_at=max(ends) if ends else time.time())
    ws.store.set_status(parent.run_id, status, reason=f"{why}; {driver}" if why else driver)
    return ws.store.get(parent.run_id)


def cancel_sweep(ws: Workspace, parent: RunRecord, *, timeout: float = 10.0) -> None:
    """Cancel a sweep: the parent first (the driver starts nothing more), then the queued
    children (Canceled without starting) and the started ones; returns once those have ended
    (or after ``timeout``), so no child process is left running."""
    store = ws.store
    store.set_status(parent.run_id, RunStatus.CANCELED, reason="canceled")
    if cancel_array(ws, parent.run_id):     # one job array: one scancel ends every child
        why = f"sweep canceled (scancel of job array {parent.target_state.slurm_job_id})"
        for child in children_of(parent):
            store.set_status(child["run_id"], RunStatus.CANCELED, reason=why)
        return
    started: list[str] = []
    for child in children_of(parent):
        record = store.get(child["run_id"])
        if record.status is RunStatus.QUEUED:
            _mark_canceled(ws, record.run_id, "sweep canceled before this run started")
        elif not record.status.is_terminal():
            started.append(record.run_id)
    deadline = time.monotonic() + timeout
    for run_id in started:
        _cancel_started_child(ws, run_id, deadline)


def _mark_canceled(ws: Workspace, run_id: str, reason: str) -> None:
    """Mark a child Canceled that has no agent yet (Queued, or being started by the driver,
    whose ``Workspace._start`` then stops what it launches). Should the driver have recorded
    the launch just before the mark, the agent is stopped here."""
    if ws.store.set_status(run_id, RunStatus.CANCELED, reason=reason):
        record = ws.store.get(run_id)
        if record.target_state.run_dir:
            ws.stop_launched(record)


def _cancel_started_child(ws: Workspace, run_id: str, deadline: float) -> None:
    """Cancel a child the driver started: through its target once its state names the run
    (then wait for its end); before that, mark it Canceled."""
    record = ws.store.get(run_id)
    if not record.target_state.run_dir:
        _mark_canceled(ws, run_id, "sweep canceled while this run was starting")
        return
    try:
        ws.cancel(run_id)
    except AmlError:                 # it ended meanwhile
        return
    Run(ws, run_id).wait(timeout=max(0.0, deadline - time.monotonic()))


def sweep_started_text(parent: RunRecord) -> str:
    """What a submit says once the driver has the sweep: its id, size and concurrency."""
    sweep = parent.config_snapshot.get("sweep") or {}
    limit = sweep.get("max_concurrent_runs")
    at_once = f"at most {limit} at a time" if limit else "as the scheduler starts them"
    return (f"sweep {parent.run_id}: {len(children_of(parent))} child runs, {at_once} "
            "(compare them with "
            f"`aml history compare --sweep {parent.run_id}`)")


def progress_line(child_id: str, command: Sequence[str], status: str,
                  reason: str | None = None) -> str:
    """One line of a sweep's progress (the parent's log): child id, arguments, status."""
    text = f"{child_id}  {' '.join(command[1:])}  {status}"
    return text + (f" ({reason})" if reason else "") + "\n"

