"""``AmlService``: the one object behind every REST handler. It maps the paths the file browser
shows to projects (one ``Workspace`` per project, shared by all requests), and does the blocking
work (SQLite, snapshots, SSH, Docker) for the handlers, which call it from a thread pool.

Every method here is synchronous and may block; handlers never call it on the event loop.
Every answer is built by :mod:`aml_magic.service.schema`, so secret values are masked the same way as in
``aml ... -o json``.
"""
from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aml_magic.service import active_runs, attach_api, schema
from aml_magic.errors import (AmlError, ApiError, ConfigError, EnvironmentNotPrepared,
                              ProjectNotFound, UnsafeRunFile)
from aml_magic.domain.config import find_project
from aml_magic.domain.runfolder import open_file_nofollow
from aml_magic.domain.history.status import RunStatus
from aml_magic.service.workspace import Workspace
from aml_magic.service.jobs import PrepareJobs
from aml_magic.service.log_window import read_window
from aml_magic.service.run_page import rerun, snapshot_json
from aml_magic.service.run_table import TableRequest, run_query, run_table
from aml_magic.service.compare_page import compare_page, sweep_list
from aml_magic.service.submit_options import request_overrides, request_sweep
from aml_magic.service.sweep import submit_sweep
from aml_magic.service.sweep_driver import drive_in_thread

if TYPE_CHECKING:
    from aml_magic.domain.secrets import SecretStore
    from aml_magic.service.contract.models import (
        ActiveRunsJson, AttachedTargetJson, AttachRequest, EnvironmentJson,
        EnvironmentLogJson, LogChunkJson,
        MetricJson, OutputJson, PrepareJobJson, PrepareRequest, ProjectJson, RunComparisonJson,
        RunConfigurationJson, RunDetailJson, RunJson, RunPageJson, RunTableJson, SnapshotJson,
        SubmitRequest, SweepListJson, TargetJson
    )

#: Largest page of runs one request may ask for.
MAX_PAGE = 500
#: How many metric names the runs list shows per run (the "first metrics" column).
LIST_METRICS = 3
#: Bytes per read when an output file is streamed to the browser.
DOWNLOAD_CHUNK = 256 * 1024
#: The most of an environment build's log one answer holds.
MAX_ENVIRONMENT_LOG = 32 * 2**20
#: A list reconciles the project's active runs first, unless a pass (a list's or the
#: background reconciler's) started this recently.
FRESH_SECONDS = 0.5
#: How long a target that did not answer is left out of the passes lists trigger (the
#: background reconciler keeps asking it), so a list never waits for a connect timeout twice.
UNREACHABLE_SECONDS = 15.0


class AmlService:
    """Projects under the server's root folder, their runs and targets, as JSON-ready dicts."""

    def __init__(self, root_dir: str | os.PathLike[str], *, max_workers: int = 4,
                 secrets: SecretStore | None = None) -> None:
        self.root_dir = Path(root_dir).expanduser().resolve()
        self.secrets = secrets     # the team server's key store; None: the user's own store
        self.executor = ThreadPoolExecutor(max_workers=max_workers,
                                           thread_name_prefix="aml-server")
        self.jobs = PrepareJobs(self.executor)
        self._workspaces: dict[Path, Workspace] = {}
        self._lock = threading.Lock()
        self._passes: dict[Path, float] = {}                  # project -> last pass began
        self._unreachable: dict[tuple[Path, str], float] = {}  # (project, target) -> until

    def close(self) -> None:
        """Stop taking work, drop queued work, close the targets' connections."""
        self.executor.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            workspaces, self._workspaces = list(self._workspaces.values()), {}
        for workspace in workspaces:
            workspace.close()

    # -- projects ---------------------------------------------------------------------------
    def _folder(self, path: str) -> Path:
        """ROOT/PATH, refused when it leaves the server's root folder."""
        folder = (self.root_dir / path.strip("/")).resolve()
        if folder != self.root_dir and self.root_dir not in folder.parents:
            raise ApiError(404, f"'{path}' is outside the server's root folder")
        return folder

    def workspace(self, path: str) -> Workspace:
        """The project at PATH (relative to the server's root) or the nearest folder above it
        holding ``aml_config/``, never above the root; one ``Workspace`` per project."""
        folder = self._folder(path)
        if folder.is_file():
            folder = folder.parent
        try:
            root = find_project(folder)
        except ProjectNotFound:
            raise ProjectNotFound(f"no aml_config/ folder at or above '{path or '/'}': run "
                                  "`aml init` there to make it a project") from None
        if root != self.root_dir and self.root_dir not in root.parents:
            raise ProjectNotFound(f"no aml_config/ folder at or above '{path or '/'}' inside "
                                  "the server's root folder")
        with self._lock:
            workspace = self._workspaces.get(root)
            if workspace is None:
                workspace = self._workspaces[root] = Workspace(root, secrets=self.secrets)
        return workspace

    def workspaces(self) -> list[Workspace]:
        """The projects this server has seen (the ones the reconciler keeps current)."""
        with self._lock:
            return list(self._workspaces.values())

    def project(self, path: str) -> ProjectJson:
        workspace = self.workspace(path)
        return self._project_json(workspace)

    def _project_json(self, workspace: Workspace) -> ProjectJson:
        return {"name": workspace.name, "path": workspace.root.relative_to(self.root_dir).as_posix()
                if workspace.root != self.root_dir else ""}

    # -- targets and run configurations -----------------------------------------------------
    def targets(self, path: str) -> list[TargetJson]:
        workspace = self.workspace(path)
        return [schema.target_json(c) for c in workspace.targets().values()]

    def run_configurations(self, path: str) -> list[RunConfigurationJson]:
        workspace = self.workspace(path)
        return [schema.runconfig_json(c) for c in workspace.run_configurations().values()]

    def attach(self, path: str, body: AttachRequest) -> AttachedTargetJson:
        """Attach a target (``attach_api``); a password in BODY goes to the secret store."""
        return attach_api.attach(self.workspace(path), body)

    def active_runs(self) -> ActiveRunsJson:
        """The active runs of every project the server knows (``active_runs``)."""
        return active_runs.count(self)

    def detach(self, path: str, name: str) -> None:
        workspace = self.workspace(path)
        if name not in workspace.targets():
            raise ApiError(404, f"no compute target '{name}' in {workspace.root / 'aml_config'}")
        workspace.detach(name)

    def environment(self, path: str, name: str) -> EnvironmentJson:
        """Whether the environment of the run configuration for target NAME exists (no build)."""
        workspace = self.workspace(path)
        if name not in workspace.targets():
            raise ApiError(404, f"no compute target '{name}' in {workspace.root / 'aml_config'}")
        rc = self._runconfig_for(workspace, name)
        if rc is None:
            return {"target": name, "run_configuration": None, "prepared": None,
                    "message": f"no run configuration uses target '{name}'"}
        try:       # what a prepare does, dependencies and all, but only looking
            result = workspace.prepare(rc.name, build=False)
        except EnvironmentNotPrepared as exc:
            return {"target": name, "run_configuration": rc.name, "prepared": False,
                    "message": str(exc)}
        except ConfigError as exc:   # prepare would refuse: nothing to say about the build
            return {"target": name, "run_configuration": rc.name, "prepared": None,
                    "message": str(exc)}
        return {"target": name, "run_configuration": rc.name, "prepared": True,
                "message": result.message}

    @staticmethod
    def _runconfig_for(workspace: Workspace, target: str) -> Any:
        """The run configuration named like the target (what attach writes), else the first
        one that uses it."""
        configs = workspace.run_configurations()
        if target in configs and configs[target].target == target:
            return configs[target]
        return next((c for c in configs.values() if c.target == target), None)

    def start_prepare(self, path: str, body: PrepareRequest) -> PrepareJobJson:
        workspace = self.workspace(path)
        name = str(body.get("run_configuration") or "")
        if not name and body.get("target"):
            rc = self._runconfig_for(workspace, str(body["target"]))
            name = rc.name if rc is not None else ""
        if not name:
            raise ApiError(400, "prepare needs 'run_configuration' (or a 'target' one uses)")
        workspace.config.runconfig(name)              # a bad name fails now, not in the job
        return self.jobs.start(workspace, name)

    # -- runs -------------------------------------------------------------------------------
    def runs(self, path: str, *, status: str | None, target: str | None, limit: int,
             offset: int) -> RunPageJson:
        """One page of the project's runs, newest first, with the total for the filters."""
        if not 0 < limit <= MAX_PAGE or offset < 0:
            raise ApiError(400, f"limit must be 1..{MAX_PAGE} and offset >= 0")
        if status is not None and status not in {s.value for s in RunStatus}:
            raise ApiError(400, f"unknown status '{status}'; one of "
                                f"{', '.join(s.value for s in RunStatus)}")
        workspace = self.workspace(path)
        self.reconcile_project(workspace, background=False)   # the state a detail shows too
        store = workspace.store
        records = store.list_runs(status=status, target=target, limit=limit, offset=offset)
        metrics: dict[str, dict[str, Any]] = {}
        for record in records:
            latest: dict[str, Any] = {}
            for metric in store.metrics(record.run_id):
                if metric.name in latest or len(latest) < LIST_METRICS:
                    latest[metric.name] = metric.value
            if latest:
                metrics[record.run_id] = latest
        return {"project": self._project_json(workspace),
                "runs": [schema.run_json(r) for r in records],
                "metrics": metrics,
                "total": store.count_runs(status=status, target=target),
                "active": len(store.active_runs()),      # the status index: few rows
                "limit": limit, "offset": offset}

    def run_table(self, path: str, request: TableRequest) -> RunTableJson:
        """A page of the main area's runs table: sorted and filtered on the server."""
        run_query(request)                      # a bad request fails before any work
        workspace = self.workspace(path)
        self.reconcile_project(workspace, background=False)
        return run_table(workspace, self._project_json(workspace), request)

    def compare(self, path: str, run_ids: list[str], sweep: str | None) -> RunComparisonJson:
        """The compare page: RUN_IDS (or SWEEP's children) side by side, with their series."""
        workspace = self.workspace(path)
        return compare_page(workspace, self._project_json(workspace), run_ids, sweep)

    def sweeps(self, path: str) -> SweepListJson:
        """The project's sweeps, for the runs table's sweep filter."""
        return sweep_list(self.workspace(path))

    def run(self, path: str, run_id: str) -> RunDetailJson:
        """A run in full, reconciled with its target first when it is still going."""
        run = self.workspace(path).run(run_id)
        record = run.refresh()
        return schema.run_detail_json(record, metrics=run.metrics(), outputs=run.outputs(),
                                      log=f".aml/runs/{record.run_id}/log.txt",
                                      unreachable=run.unreachable, orphaned=run.orphaned)

    def log(self, path: str, run_id: str, offset: int, *, tail: int | None = None,
            before: int | None = None, limit: int | None = None) -> LogChunkJson:
        """A bounded window of the log (masked), cut at lines, and where to go on: from byte
        OFFSET (at most LIMIT bytes), its last TAIL bytes, or the LIMIT bytes BEFORE a byte."""
        if offset < 0:
            raise ApiError(400, "offset must be >= 0")
        run = self.workspace(path).run(run_id)
        record = run.refresh()
        ended = record.status.is_terminal()
        if tail is None and before is None and limit is None:
            text, next_offset = run.log_text(offset)
            start, complete = offset, ended and next_offset == offset
        else:
            text, start, next_offset, complete = read_window(
                run.folder, run.mask, ended, offset=offset, tail=tail, before=before, limit=limit)
        return {"run_id": record.run_id, "offset": start, "next_offset": next_offset,
                "text": text, "status": record.status.value, "complete": complete}

    def environment_log(self, path: str, run_id: str) -> EnvironmentLogJson:
        """The log of the environment build the run's submit triggered (its run folder's
        ``build.log``, never through a link), as ``aml run logs --environment`` prints it."""
        run = self.workspace(path).run(run_id)
        try:
            fd, _ = open_file_nofollow(run.folder, "build.log")
        except (UnsafeRunFile, OSError):
            raise ApiError(404, f"run {run.id} triggered no environment build (it used one "
                           "prepared before, or its target builds none); its run log: aml run "
                           f"logs {run.id}") from None
        with os.fdopen(fd, "rb") as handle:
            text = handle.read(MAX_ENVIRONMENT_LOG).decode("utf-8", "replace")
        return {"run_id": run.id, "text": text}

    def metrics(self, path: str, run_id: str) -> list[MetricJson]:
        run = self.workspace(path).run(run_id)
        return [schema.metric_json(m) for m in run.metrics()]

    def outputs(self, path: str, run_id: str) -> list[OutputJson]:
        run = self.workspace(path).run(run_id)
        return [schema.output_json(a) for a in run.outputs()]

    def open_output(self, path: str, run_id: str, name: str) -> tuple[int, Iterator[bytes]]:
        """(size, chunks) of one collected output, opened by ``Run.open_output`` (only listed
        names, never through a link anywhere on the path)."""
        fd, size = self.workspace(path).run(run_id).open_output(name)

        def chunks() -> Iterator[bytes]:
            left = size                 # Content-Length was said: never more, if it grew
            with os.fdopen(fd, "rb") as handle:
                while left > 0 and (block := handle.read(min(DOWNLOAD_CHUNK, left))):
                    left -= len(block)
                    yield block
        return size, chunks()

    def cancel(self, path: str, run_id: str) -> RunJson:
        workspace = self.workspace(path)
        run = workspace.run(run_id)
        if run.record.status.is_terminal():
            raise ApiError(409, f"run {run.id} has already ended ({run.record.status.value}); "
                                "nothing to cancel")
        workspace.cancel(run.id)
        return schema.run_json(run.refresh())

    def delete_run(self, path: str, run_id: str) -> None:
        """Forget an ended run and its run folder (as ``aml history prune`` does)."""
        workspace = self.workspace(path)
        record = workspace.run(run_id).record
        if not record.status.is_terminal():
            raise ApiError(409, f"run {record.run_id} is {record.status.value}; cancel it "
                                "first, then delete it")
        workspace.store.delete_run(record.run_id)

    def snapshot(self, path: str, run_id: str) -> SnapshotJson:
        """The files of the run's snapshot (the manifest the history kept)."""
        return snapshot_json(self.workspace(path), run_id)

    def rerun(self, path: str, run_id: str) -> RunJson:
        """The run's script, arguments and target submitted again, as a new run."""
        run = rerun(self.workspace(path), run_id)
        return schema.run_json(run.record if run.starting else run.refresh())

    def submit(self, path: str, body: SubmitRequest) -> RunJson:
        """Record and start a run; returns once it is recorded (the start goes on in a thread,
        its failures land in the run's status)."""
        workspace = self.workspace(path)
        name = str(body.get("run_configuration") or "")
        if not name:
            raise ApiError(400, "submit needs 'run_configuration'")
        arguments = body.get("arguments") or []
        if not isinstance(arguments, list) or not all(isinstance(a, str) for a in arguments):
            raise ApiError(400, "'arguments' must be a list of strings")
        script = body.get("script")
        if script is not None:
            script = str(self._folder(str(script)))
        overrides = request_overrides(workspace, body)     # -t/-d/-s, checked: 400 each
        sweep = request_sweep(body)
        if sweep is not None:       # the parent; the driver starts the children
            parent = submit_sweep(
                workspace, name, script, arguments, sweep[0], overrides=overrides,
                max_concurrent=sweep[1],
                # the server's key store is this process's: its driver must be too
                start_driver=drive_in_thread if self.secrets is not None else None)
            return schema.run_json(parent.refresh())
        run = workspace.submit(name, script, arguments, background=True,
                               overrides=overrides or None)
        return schema.run_json(run.record if run.starting else run.refresh())

    # -- background reconciliation ----------------------------------------------------------
    def reconcile_all(self) -> int:
        """Reconcile the non-terminal runs of every project seen; returns how many."""
        count = 0
        for workspace in self.workspaces():
            try:
                count += self.reconcile_project(workspace, background=True)
            except AmlError:
                continue
        return count

    def reconcile_project(self, workspace: Workspace, *, background: bool) -> int:
        """Bring the project's active runs up to date with their targets, so that a list shows
        the state a run's detail (which reconciles that run) shows: one reconciled state, as
        ``aml run list`` and ``%aml_runs`` have it. A list's pass is skipped when one began
        within ``FRESH_SECONDS`` and leaves out targets that did not answer lately; the
        background pass asks every target and renews what is known about them. A list never
        waits for a target another request is busy with (a build, a launch)."""
        root, now = workspace.root, time.monotonic()
        with self._lock:
            if not background and now - self._passes.get(root, -math.inf) < FRESH_SECONDS:
                return 0
            self._passes[root] = now
            skipped = set() if background else {
                name for (project, name), until in self._unreachable.items()
                if project == root and until > now}
        unreachable = set(skipped)
        count = workspace.reconcile_active(unreachable=unreachable, wait=background)
        with self._lock:
            if background:
                for key in [k for k in self._unreachable if k[0] == root]:
                    del self._unreachable[key]
            for name in unreachable - skipped:
                self._unreachable[(root, name)] = now + UNREACHABLE_SECONDS
        return count
