"""``Workspace``: one object per project, the only API the front ends (CLI, magics, widgets,
server) call. It joins configuration, secrets, snapshots, targets and the run history."""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from collections.abc import Callable

from aml_magic.errors import AmlError, ConfigError
from aml_magic.domain.config import (
    ProjectConfig,
    RunConfiguration,
    config_snapshot,
    find_project,
)
from aml_magic.domain.history import RunStore
from aml_magic.domain.history.manifests import keep_manifest
from aml_magic.domain.nofollow import write_marker
from aml_magic.domain.history.records import RunRecord
from aml_magic.domain.history.stale import fail_if_abandoned, fail_malformed
from aml_magic.domain.history.status import RunStatus
from aml_magic.domain.isolation import BUILD, allowed_names, permit
from aml_magic.domain.provenance import interpreter_provenance
from aml_magic.domain.envvars import masked_environment, resolve_env
from aml_magic.domain.secrets import Masker, SecretStore, is_reference
from aml_magic.domain.snapshot.gitinfo import git_info
from aml_magic.domain.snapshot.manifest import Manifest, take_snapshot
from aml_magic.service import notebook_submit, sweep
from aml_magic.service.argument_masking import masked_arguments
from aml_magic.service.reconcile import reconcile
from aml_magic.service.run import Run
from aml_magic.service.run_target import (
    ForeignFolders,
    check_run,
    compute_of_record,
    orphaned_reason,
    refused_paths,
)
from aml_magic.targets import target_class
from aml_magic.targets.base import Dependencies, Launched, LaunchRequest, PrepareResult, Target

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any, Mapping, Sequence
    from aml_magic.domain.config import ComputeTarget, RunConfiguration
    from aml_magic.domain.history.store import RunStore

ProgressCallback = Callable[[str], None]


class Workspace:
    """A project: the folder holding ``aml_config/``."""

    def __init__(self, project_root: str | os.PathLike[str] | None = None, *,
                 secrets_dir: str | os.PathLike[str] | None = None,
                 secrets: SecretStore | None = None) -> None:
        start = Path(project_root) if project_root is not None else Path.cwd()
        self.root = find_project(start.expanduser().resolve())
        self.config = ProjectConfig(self.root)
        self._secrets_dir = Path(secrets_dir) if secrets_dir else None
        self._store: RunStore | None = None
        # the team server's key store (``domain/teamdb/server_secrets.py``), else the user's
        self._secrets: SecretStore | None = secrets
        self._lock = threading.RLock()
        self._targets: dict[str, Target] = {}
        self._warned: set[str] = set()
        self._target_locks: dict[str, threading.RLock] = {}

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"

    @property
    def name(self) -> str:
        return self.root.name

    # -- lazily built collaborators ---------------------------------------------------------
    @property
    def store(self) -> RunStore:
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = RunStore(self.root)
        return self._store

    @property
    def secrets(self) -> SecretStore:
        if self._secrets is None:
            self._secrets = SecretStore(self._secrets_dir)
        return self._secrets

    def store_secret(self, kind: str, name: str, value: str) -> str:
        """Keep ``value`` in the secret store; the reference is what files may hold."""
        return self.secrets.put(kind, name, value)

    def masker_for(self, record: RunRecord) -> Masker:
        """A masker knowing the secret values a run was given: the references its snapshot
        holds, resolved from the secret store, and the literal values of secret-looking names
        in its run configuration file (history keeps only ``******`` for those)."""
        masker = Masker(())
        sources = [record.config_snapshot.get("runconfig", {}).get("EnvironmentVariables")]
        try:
            if record.run_configuration:
                sources.append(self.config.runconfig(record.run_configuration)
                               .environment_variables)
        except AmlError:
            pass
        for declared in sources:
            try:
                masker.update(resolve_env(declared, self.secrets)[1])
            except (AmlError, ValueError):
                continue
        return masker

    # -- targets and run configurations -----------------------------------------------------
    def targets(self) -> dict[str, ComputeTarget]:
        return self.config.compute_targets()

    def run_configurations(self) -> dict[str, RunConfiguration]:
        return self.config.run_configurations()

    def target_for(self, compute: ComputeTarget) -> Target:
        """A target object for ``compute``, kept per workspace so that its connection (SSH,
        Docker) is reused between polls; a changed ``.compute`` gets a fresh one."""
        with self._lock:
            cached = self._targets.get(compute.name)
            if cached is not None and cached.compute == compute:
                return cached
            cls = target_class(compute.type, source=str(compute.path) if compute.path else None)
            target = cls(compute, project_root=self.root, secrets=self.secrets)
            self._targets[compute.name] = target
            self._target_locks.setdefault(compute.name, threading.RLock())
        if cached is not None:
            cached.close()
        return target

    def close(self) -> None:
        """Close the targets' connections (also done at interpreter exit)."""
        with self._lock:
            targets, self._targets = list(self._targets.values()), {}
        for target in targets:
            target.close()

    def attach(self, type_name: str, name: str, **options: Any) -> Any:
        """Write ``<name>.compute`` and ``<name>.runconfig``; secrets go to the secret store.

        Options are those of ``aml computetarget attach`` (address, username, password,
        use_key, key_file, host_key_fingerprint, trust_new_host_key, base_image, ...)."""
        return _attach_module().attach_target(self, type_name, name, **options)

    def bind_login(self, compute: ComputeTarget) -> None:
        """Bind the target's stored login secret to the host its file names (see attach)."""
        _attach_module().bind_login(self, compute)

    def detach(self, name: str) -> None:
        """Remove ``<name>.compute`` and ``<name>.runconfig`` (as Workbench did) and the secrets
        the target referenced."""
        compute = self.config.compute(name)
        self.config.remove(name)
        self.secrets.unbind_target(self.root, name)
        password = getattr(compute, "password", None)
        key = getattr(compute, "key_reference", None)
        for ref in (password, key):
            if ref and self.secrets.is_reference(ref) and ref.startswith("aml-secret:"):
                try:
                    self.secrets.delete(ref)
                except AmlError:
                    pass

    def create_run_configuration(self, name: str, *, target: str,
                                 framework: str = "Python", **fields: Any) -> RunConfiguration:
        self.config.compute(target)          # the target must exist
        if name in self.config.runconfig_names():
            raise AmlError(f"run configuration '{name}' already exists in "
                           f"{self.root / 'aml_config'}; pick another name or edit the file")
        rc = RunConfiguration(name=name, target=target, framework=framework, **fields)
        self.config.write_runconfig(rc)
        return rc

    def dependencies(self, rc: RunConfiguration) -> Dependencies:
        """The run configuration's conda and Spark dependencies, loaded when a target asks:
        targets get them here and never read ``aml_config/`` themselves."""
        return Dependencies(conda=lambda: self.config.conda_dependencies(rc),
                            spark=lambda: self.config.spark_dependencies(rc))

    # -- prepare ----------------------------------------------------------------------------
    def prepare(self, runconfig_name: str, *, on_progress: ProgressCallback | None = None,
                strict: bool = False, build: bool = True,
                allow_unsafe_container: bool = False, managed: bool = False) -> PrepareResult:
        """Build the run configuration's environment unless it exists. ``strict``: a conda
        specification the target cannot honour fails the build instead of a warning.
        ``build=False``: only look (``EnvironmentNotPrepared`` when it does not exist). A build
        on the host's network needs the user's permission (``isolation.permit``). ``managed``:
        the target's runs use an environment built from ``conda_dependencies.yml`` from now on
        (``userManagedEnvironment: false`` written into its ``.compute``)."""
        if managed:
            current = self.config.target_of(self.config.runconfig(runconfig_name))
            if current.user_managed_environment is not False:
                self._set_managed(current, on_progress)
        show = on_progress      # a look-only prepare (no callback) keeps them for submit
        checked = check_run(self, self.config.runconfig(runconfig_name),
                            on_notes=(lambda notes: self._warn(notes, show)) if show else None)
        rc, compute, target = checked.runconfig, checked.compute, checked.target
        if build:
            permit(compute, project_root=self.root, allow_unsafe=allow_unsafe_container,
                   only=BUILD)
        start = time.perf_counter()
        with self._target_locks[rc.target]:
            result = target.prepare(rc, on_progress=on_progress, strict=strict, build=build,
                                    dependencies=self.dependencies(rc))
        result.seconds = time.perf_counter() - start
        return result

    def _set_managed(self, compute: ComputeTarget,
                     on_progress: ProgressCallback | None) -> ComputeTarget:
        """``prepare --managed``: write ``userManagedEnvironment: false`` (local and remote
        targets; the others build their environment anyway)."""
        if compute.type not in ("local", "remote"):
            raise ConfigError(f"--managed is for local and remote targets; '{compute.name}' is "
                              f"{compute.type}, whose environment prepare builds anyway",
                              path=str(compute.path) if compute.path else None)
        import dataclasses
        compute = dataclasses.replace(compute, user_managed_environment=False)
        path = self.config.write_compute(compute)
        if on_progress is not None:
            on_progress(f"{path.name}: userManagedEnvironment set to false: runs on "
                        f"'{compute.name}' use the environment built from conda_dependencies.yml")
        return compute

    def planned_python(self, runconfig_name: str) -> str | None:
        """The interpreter a run of ``runconfig_name`` will use, when the target can tell before
        it starts (a submit's first line; None: see the run once it started)."""
        rc = self.config.runconfig(runconfig_name)
        return self.target_for(self.config.target_of(rc)).planned_python(rc, self.dependencies(rc))

    # -- submit -----------------------------------------------------------------------------
    def submit(self, runconfig_name: str, script: str | None = None,
               args: Sequence[str] = (), *, wait: bool = False,
               on_progress: ProgressCallback | None = None,
               on_warning: ProgressCallback | None = None, background: bool = False,
               overrides: Mapping[str, Any] | None = None,
               queued_as: str | None = None, frozen_snapshot: Path | None = None,
               allow_unsafe_container: bool = False) -> Run:
        """Snapshot the project, record the run, start it on the target; return once it is
        started (or after it ends with ``wait``). A failure after the run is recorded marks it
        Failed with the reason, then raises. With ``background`` the run is returned as soon
        as it is recorded and a thread (``run.starting``) syncs, prepares and launches it: a
        notebook cell then never blocks on a slow target; failures are in the run's status.

        ``queued_as``: the id of a run already recorded Queued (a sweep's child, see
        ``sweep.py``): it is filled in and started instead of a new record. ``frozen_snapshot``:
        a folder holding ``manifest.json`` and its files under ``work/`` (a sweep's parent run
        folder): the run gets that snapshot instead of the project as it is now.
        ``allow_unsafe_container``: the user allows, for this run, container options of the
        ``.compute`` that weaken isolation (else only the user's settings file can; see
        ``domain/isolation.py``); the run's record keeps what was reduced."""
        target, request = self.record_submit(
            runconfig_name, script, args, on_progress=on_progress, on_warning=on_warning,
            overrides=overrides, queued_as=queued_as, frozen_snapshot=frozen_snapshot,
            allow_unsafe_container=allow_unsafe_container)
        run = Run(self, request.run_id)
        if background and not wait:
            run.starting = threading.Thread(target=self._start_recorded, args=(target, request),
                                            name=f"aml-submit-{request.run_id}")
            run.starting.start()
            return run
        self._start(target, request)
        if wait:
            run.wait()
        return run

    def record_submit(self, runconfig_name: str, script: str | None = None,
                      args: Sequence[str] = (), *, on_progress: ProgressCallback | None = None,
                      on_warning: ProgressCallback | None = None,
                      overrides: Mapping[str, Any] | None = None,
                      queued_as: str | None = None, frozen_snapshot: Path | None = None,
                      allow_unsafe_container: bool = False) -> tuple[Target, LaunchRequest]:
        """``submit`` up to the launch: checked, snapshot taken, run recorded (Preparing);
        the target and the request that starts it. A sweep on a target that launches many
        runs at once (a Slurm job array) records every child so, then launches them all."""
        rc = self.config.runconfig(runconfig_name)
        if overrides:       # experiment submit -t/-d/-s: this run only, the file is unchanged
            import dataclasses
            rc = dataclasses.replace(rc, **overrides)
        checked = check_run(self, rc,     # the same checks as prepare
                            on_notes=lambda notes: self._warn(notes, on_warning, depth=5))
        compute, target = checked.compute, checked.target
        isolation = permit(compute, project_root=self.root, allow_unsafe=allow_unsafe_container)
        if script is not None:
            script = self._project_relative(script)
        command = [str(item) for item in rc.resolve_arguments(script, list(args))]
        if not command:
            raise ConfigError(f"run configuration '{rc.name}' has an empty ArgumentVector and no "
                              "script was given: name a script to run",
                              path=str(rc.path) if rc.path else None)
        launched = command
        if notebook_submit.is_notebook(command):    # a notebook as a run (notebook_submit.py)
            command = notebook_submit.notebook_command(command)
            launched = notebook_submit.launch_command(command, getattr(rc, "framework", None))
        declared = rc.environment_variables
        env, masker = resolve_env(declared, self.secrets,
                                  context=str(rc.path) if rc.path else rc.name)
        if any(is_reference(value) for value in (declared or {}).values()):
            target.check_secret_destination()   # store secrets: only where attach bound them
        shown_command, in_arguments = masked_arguments(command, masker, compute, self.secrets)
        masker.update(in_arguments)                 # the log masks them too
        if frozen_snapshot is None:
            manifest = take_snapshot(self.root)
        else:
            manifest = Manifest.from_json((frozen_snapshot / "manifest.json").read_bytes())
        self._warn(manifest.warnings, on_warning)     # files skipped: named, never fatal
        if command[0].endswith((".py", ".ipynb")) and command[0] not in manifest.files:
            raise AmlError(f"script '{command[0]}' is not in the project {self.root} (or "
                           ".amlignore/.gitignore excludes it); scripts run from the run's copy "
                           "of the project")
        store = self.store
        run_id = queued_as or store.new_run_id(self.name)
        commit, dirty = git_info(self.root)
        environment = masked_environment(declared, masker)
        snapshot = config_snapshot(rc, compute)
        snapshot["runconfig"]["EnvironmentVariables"] = environment or None
        if isolation is not None:
            snapshot["isolation"] = isolation
        record = RunRecord(
            run_id=run_id, project=self.name, run_configuration=rc.name, target=compute.name,
            target_type=compute.type, status=RunStatus.QUEUED, command=shown_command,
            script=shown_command[0], config_snapshot=snapshot, environment=environment,
            snapshot_digest=manifest.digest, git_commit=commit, git_dirty=dirty)
        if queued_as is None:
            store.create_run(record, then=RunStatus.PREPARING)   # one transaction, one record.json
        else:
            sweep.fill_queued_child(store, record)
            if not store.set_status(run_id, RunStatus.PREPARING):
                raise AmlError(f"run {run_id} was {store.get(run_id).status.value.lower()} "
                               "before it started")
        run_folder = store.run_dir(run_id)
        write_marker(run_folder, "manifest.json", manifest.to_json().encode())
        keep_manifest(store.aml_dir, manifest)      # restore's copy: the run cannot write it
        request = LaunchRequest(run_id=run_id, command=launched, env=env, manifest=manifest,
                                project_root=self.root, run_folder=run_folder, runconfig=rc,
                                on_progress=on_progress,
                                secret_values=masker.values(),
                                dependencies=self.dependencies(rc),
                                content_root=frozen_snapshot / "work" if frozen_snapshot else None,
                                allowed_isolation=allowed_names(isolation))
        return target, request

    def _start(self, target: Target, request: LaunchRequest) -> None:
        """Sync, prepare and launch a recorded run; a failure makes it Failed and raises."""
        store, run_id = self.store, request.run_id
        try:
            with self._target_locks[target.compute.name]:
                self.record_launched(target, request, target.submit(request))
        except AmlError as exc:
            store.update(run_id, ended_at=time.time())
            store.set_status(run_id, RunStatus.FAILED, reason=str(exc))
            raise AmlError(f"run {run_id} failed to start: {exc}") from None
        except BaseException as exc:
            store.set_status(run_id, RunStatus.FAILED, reason=f"internal error: {exc!r}")
            raise

    def record_launched(self, target: Target, request: LaunchRequest,
                        launched: Launched) -> None:
        """Record what the launch returned: Running (Queued in a scheduler's queue); a run
        canceled while it was starting is stopped."""
        store, run_id = self.store, request.run_id
        state = launched.state
        if state.launched_at is None:
            state.launched_at = time.time()
        provenance = interpreter_provenance(launched.python_facts,
                                            target.compute.python_location)
        fields = {"target_state": state, "started_at": time.time(),
                  "environment_hash": request.environment_hash, "provenance": provenance}
        status = RunStatus.RUNNING
        if launched.queued:              # a scheduler's queue: started when it runs
            status, fields["started_at"] = RunStatus.QUEUED, None
        if not store.set_status(run_id, status, fields=fields) and \
                store.get(run_id).status.is_terminal():
            target.cancel(state)       # canceled while it was starting

    def target_lock(self, name: str) -> threading.RLock:
        """The lock that serializes launches and reconciles on target ``name``."""
        return self._target_locks[name]

    def _start_recorded(self, target: Target, request: LaunchRequest) -> None:
        """``_start`` for a background thread: the outcome is in the run history."""
        try:
            self._start(target, request)
        except AmlError:
            pass

    def _warn(self, messages: Sequence[str], on_warning: ProgressCallback | None, *,
              depth: int = 3) -> None:
        """Report configuration warnings (unknown keys, ignored Workbench features) once per
        workspace; without a callback they go to Python's warnings, attributed to the frame
        ``depth`` levels up (the caller of ``submit``)."""
        for message in messages:
            if message in self._warned:
                continue
            self._warned.add(message)
            if on_warning is not None:
                on_warning(message)
            else:
                import warnings
                warnings.warn(message, stacklevel=depth)

    def _project_relative(self, script: str) -> str:
        path = Path(script).expanduser()
        if path.is_absolute():
            try:
                return path.resolve().relative_to(self.root).as_posix()
            except ValueError:
                raise AmlError(f"script {script} is outside the project {self.root}: copy it "
                               "into the project first") from None
        return path.as_posix()

    # -- runs -------------------------------------------------------------------------------
    def run(self, run_id: str) -> Run:
        resolved = self.store.resolve_run_id(run_id)
        return Run(self, resolved, self.store.get(resolved))

    def runs(self, *, status: str | RunStatus | None = None, target: str | None = None,
             limit: int = 50) -> list[Run]:
        records = self.store.list_runs(status=status, target=target, limit=limit)
        return [Run(self, r.run_id, r) for r in records]

    def reconcile(self, record: RunRecord, *, wait: bool = True) -> RunRecord:
        """``wait=False``: unchanged while its target is busy here (a build, a launch)."""
        try:
            target = self._target_of_record(record)
        except ForeignFolders as exc:       # a forged record: fail it, touch nothing
            if record.status.is_terminal():
                return record
            from dataclasses import replace
            return fail_malformed(self.store, replace(
                record, target_state=replace(record.target_state, malformed=str(exc))))
        lock = self._target_locks[target.compute.name]
        if not lock.acquire(blocking=wait):
            return record
        try:
            return reconcile(self.store, record, target)
        finally:
            lock.release()

    def wait_for_change(self, record: RunRecord, timeout: float) -> None:
        """Sleep up to ``timeout``, or less when the run's target sees a change coming."""
        try:
            target = self._target_of_record(record)
        except AmlError:
            time.sleep(timeout)
            return
        target.wait_for_change(record.target_state, timeout)

    def settle_unlaunched(self, record: RunRecord) -> RunRecord:
        """A run recorded but not launched (or a sweep's parent, never launched itself) whose
        submitter may have died: Failed with the reason, or for a sweep, following its
        children; otherwise unchanged."""
        if record.kind == "sweep":
            return sweep.settle_orphaned_sweep(self, record)
        return fail_if_abandoned(self.store, record)

    def reconcile_active(self, *, unreachable: set[str] | None = None,
                         wait: bool = True) -> int:
        """Reconcile every non-terminal run (for the server and ``aml run list``). Targets in
        ``unreachable`` are left out; one that does not answer is added to it."""
        count = 0
        unreachable = set() if unreachable is None else unreachable   # one timeout per target
        for record in self.store.active_runs():
            if not record.target_state.run_dir and \
                    self.settle_unlaunched(record).status.is_terminal():
                continue
            if record.target in unreachable:
                continue
            try:
                self.reconcile(record, wait=wait)
                count += 1
            except AmlError:
                unreachable.add(record.target)
        return count

    def cancel(self, run_id: str) -> None:
        record = self.store.get(run_id)
        if record.status.is_terminal():
            raise AmlError(f"run {run_id} has already ended ({record.status.value}); "
                           "nothing to cancel")
        if record.kind == "sweep":       # its queued children never start, running ones stop
            sweep.cancel_sweep(self, record)
            return
        if not record.target_state.run_dir:
            self.store.set_status(run_id, RunStatus.CANCELED, reason="canceled before start")
            return
        target = self._target_of_record(record)
        with self._target_locks[target.compute.name]:
            target.cancel(record.target_state)

    def stop_launched(self, record: RunRecord) -> None:
        """Ask a launched run's agent to stop whatever its recorded status says: a sweep's
        child marked Canceled just as it was launched (``sweep.py``)."""
        target = self._target_of_record(record)
        with self._target_locks[target.compute.name]:
            target.cancel(record.target_state)

    def orphaned(self, record: RunRecord) -> str | None:
        """Why the run's target is gone (``run_target.py``), or None."""
        try:
            return orphaned_reason(self.config, record)
        except AmlError:            # its .compute cannot be loaded: that error is shown instead
            return None

    def _target_of_record(self, record: RunRecord) -> Target:
        """The target a run ran on, as ``aml_config/`` defines it now: never as recorded with
        the run (a run can forge its record), so a run whose target is gone is orphaned
        (``RunOrphaned``) and one naming folders not its own is refused (``ForeignFolders``)."""
        compute = compute_of_record(self.config, record)
        refused = refused_paths(compute, record, self.store.run_dir(record.run_id), self.root)
        if refused:
            raise ForeignFolders(refused)
        return self.target_for(compute)


def _attach_module() -> ModuleType:
    """``service.attach``, for ``attach`` and ``bind_login`` only."""
    # attach loads the SSH binding and host key modules: not at import, where every
    # `aml experiment submit` would pay for them (~2 % of its start)
    from aml_magic.service import attach
    return attach
