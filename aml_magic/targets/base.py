"""A compute target is a template of named stages (check, prepare, submit, read_state, sync_log,
read_metrics, collect_outputs, collect_logs_dir, agent_alive, cancel, kill_group,
wait_for_change, close).

``AgentTarget`` implements every stage once, composed from two parts (see ``registry``):
a **placement** (``placement_local``/``placement_remote``: where the run folder lives, its
``Transport``, how the snapshot gets there) and a **launch** (``launch_process``/
``launch_container``: how the agent starts and is stopped). Every read of the run folder goes
through the placement's transport, so a type differs from another only in those two parts.
"""
from __future__ import annotations

import time
from abc import ABC, abstractmethod
from aml_magic.domain.plain_data import field, plain_data
from pathlib import Path, PurePosixPath
from collections.abc import Callable

from aml_magic.domain import runfolder
from aml_magic.domain.runfolder.parsing import AgentState  # re-exported: targets read it
from aml_magic.domain.provenance import describe_python  # re-exported: launches and parsing use it
from aml_magic.domain.target_state import TargetState
from aml_magic.targets.dependencies import Dependencies
from aml_magic.targets.spark_submit import spark_submit_argv
from aml_magic.targets.launched import AgentStarted, Launched

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import ClassVar
    from aml_magic.domain.config import ComputeTarget, RunConfiguration
    from aml_magic.domain.envvars import EnvironmentVariables
    from aml_magic.domain.secrets import SecretStore
    from aml_magic.domain.snapshot.manifest import Manifest
    from aml_magic.targets.launch import Launch
    from aml_magic.targets.placement import Placement
    from aml_magic.transports.base import Transport

ProgressCallback = Callable[[str], None]


@plain_data
class PrepareResult:
    """What ``prepare`` did: ``built`` false means an existing environment was reused or none is
    needed; ``message`` is the one line a front end shows."""
    built: bool
    message: str
    environment_hash: str | None = None
    seconds: float = 0.0


@plain_data
class LaunchRequest:
    """Everything a target needs to start one run. ``env`` and ``secret_values`` hold resolved
    secret values: they go to the agent on stdin (``env`` and ``mask``) and are never stored;
    the agent masks ``secret_values`` in the run's ``log.txt``."""
    run_id: str
    command: list[str]                  # script and arguments, after ``$file`` substitution
    env: EnvironmentVariables          # resolved: secret values, never stored
    manifest: Manifest
    project_root: Path
    run_folder: Path                    # <project>/.aml/runs/<id>/ (history side)
    runconfig: RunConfiguration
    environment_hash: str | None = None   # set by the target when it builds the environment
    on_progress: ProgressCallback | None = None
    spark_submit: str | None = None      # set by the spark-submit launch (its probed path)
    secret_values: list[str] = field(default_factory=list, repr=False)
    dependencies: Dependencies = field(default_factory=Dependencies)
    # Where the manifest's files are read from, when not the project itself: a sweep's frozen
    # copy (every child runs the files as they were when the sweep was submitted)
    content_root: Path | None = None
    # The isolation names (domain/isolation.py) the user allowed for this run: the container
    # launch refuses any other weakening value of the .compute
    allowed_isolation: frozenset[str] = frozenset()

    @property
    def source(self) -> Path:
        """The folder the snapshot's file contents are copied or sent from."""
        return self.content_root if self.content_root is not None else self.project_root


class Target(ABC):
    """One compute target, as named by a ``.compute`` file."""

    type_name: str = ""
    builds_environments: bool = False

    def __init__(self, compute: ComputeTarget, *, project_root: Path,
                 secrets: SecretStore) -> None:
        self.compute = compute
        self.project_root = project_root
        self.secrets = secrets

    # -- stages -----------------------------------------------------------------------------
    def check(self, runconfig: RunConfiguration) -> None:
        """Refuse a run configuration this target cannot run, before anything is recorded."""

    def planned_python(self, runconfig: RunConfiguration,
                       dependencies: Dependencies) -> str | None:
        """The interpreter a run will use, when it can be told without connecting or starting
        anything (None: known once the run starts, from what the agent reports)."""
        return None

    def check_secret_destination(self) -> None:
        """Refuse (one line) to send a launch spec holding secrets from the store anywhere but
        where the target was attached: its bound login, its bound engine. Called by submit
        before anything is recorded; makes no connection."""

    def prepare(self, runconfig: RunConfiguration, *, on_progress: ProgressCallback | None = None,
                build: bool = True, strict: bool = False,
                dependencies: Dependencies | None = None) -> PrepareResult:
        return PrepareResult(False, f"target '{self.compute.name}' uses a user-managed "
                                    "environment: there is nothing to prepare")

    @abstractmethod
    def submit(self, request: LaunchRequest) -> Launched:
        """Sync the snapshot, launch the agent; return the target state to record."""

    @abstractmethod
    def read_state(self, target_state: TargetState) -> AgentState: ...

    @abstractmethod
    def sync_log(self, target_state: TargetState, local_log: Path) -> None: ...

    @abstractmethod
    def read_metrics(self, target_state: TargetState, offset: int,
                     limit: int = runfolder.METRICS_CHUNK) -> bytes: ...

    @abstractmethod
    def collect_outputs(self, target_state: TargetState, dest: Path) -> list[str]:
        """Copy the run's ``./outputs/`` into ``dest``; return refused paths."""

    def collect_logs_dir(self, target_state: TargetState, dest: Path) -> None:
        """Copy the run's ``./logs/`` into ``dest`` while it is live."""

    @abstractmethod
    def agent_alive(self, target_state: TargetState) -> bool | None:
        """True/False when it can be told, None when the target cannot be reached."""

    @abstractmethod
    def cancel(self, target_state: TargetState) -> None: ...

    def kill_group(self, target_state: TargetState) -> None:
        """Stop what the agent left behind when it died: the session (or container) recorded
        at launch, identity checked; never a process id read from the run folder."""

    def wait_for_change(self, target_state: TargetState, timeout: float) -> None:
        """Block up to ``timeout`` seconds, returning early when the target can tell that the
        run's state changed (the local target watches the agent's process)."""
        time.sleep(timeout)

    def close(self) -> None:
        """Release connections."""


class AgentTarget(Target):
    """Every stage once, over a placement (run folder + transport) and a launch (agent start
    and stop). A type names its two classes; see ``local``, ``docker``, ``remote`` and
    ``remotedocker``."""

    heartbeat_seconds: float = 1.0
    placement_class: ClassVar[type[Placement]]
    launch_class: ClassVar[type[Launch]]

    def __init__(self, compute: ComputeTarget, *, project_root: Path,
                 secrets: SecretStore) -> None:
        super().__init__(compute, project_root=project_root, secrets=secrets)
        self.placement = self.placement_class(compute, project_root=project_root,
                                              secrets=secrets)
        self.launch = self.launch_class()
        self.builds_environments = self.launch.builds_environments

    @property
    def transport(self) -> Transport:
        return self.placement.transport

    @property
    def run_folder_is_local(self) -> bool:
        return self.placement.run_folder_is_local

    # -- stages -----------------------------------------------------------------------------
    def check(self, runconfig: RunConfiguration) -> None:
        self.placement.check(runconfig)
        self.launch.check(self, runconfig)

    def prepare(self, runconfig: RunConfiguration, *, on_progress: ProgressCallback | None = None,
                build: bool = True, strict: bool = False,
                dependencies: Dependencies | None = None) -> PrepareResult:
        if dependencies is None and self.builds_environments:
            raise TypeError("prepare needs the run configuration's dependencies "
                            "(Workspace.dependencies(runconfig)): an environment built "
                            "without them would have the wrong identity")
        return self.launch.prepare(self, runconfig, dependencies or Dependencies(),
                                   on_progress=on_progress, build=build, strict=strict)

    def check_secret_destination(self) -> None:
        self.placement.check_secret_destination()
        self.launch.check_secret_destination(self)

    def submit(self, request: LaunchRequest) -> Launched:
        return self.launch.submit(self, request)

    def read_state(self, target_state: TargetState) -> AgentState:
        """``status.json``, bounded and validated (``runfolder``: the run may have written it)."""
        state = runfolder.read_status(self.transport,
                                      join(target_state.folder(), "status.json"),
                                      heartbeat_seconds=self.heartbeat_seconds)
        return self.launch.observe_state(self, target_state, state)

    def sync_log(self, target_state: TargetState, local_log: Path) -> None:
        if self.run_folder_is_local:
            return
        remote = join(target_state.folder(), "log.txt")
        offset = local_log.stat().st_size if local_log.exists() else 0
        chunk = self.transport.read_file(remote, offset, runfolder.LOG_CHUNK)
        if chunk:
            runfolder.append_nofollow(local_log.parent, local_log.name, chunk)
            self.launch.observe_log(self, target_state, local_log, offset)

    def read_metrics(self, target_state: TargetState, offset: int,
                     limit: int = runfolder.METRICS_CHUNK) -> bytes:
        return self.transport.read_file(join(target_state.folder(), "metrics.jsonl"), offset,
                                        limit)

    def collect_outputs(self, target_state: TargetState, dest: Path) -> list[str]:
        outputs_dir = target_state.outputs_dir
        if self.run_folder_is_local and not outputs_dir:
            # trust only the run folder itself: the run may have replaced work/ with a link
            refused = runfolder.copy_tree_nofollow(target_state.folder(), "work/outputs",
                                                   dest.parent, dest.name).refused
        else:
            source = outputs_dir or join(target_state.folder(), "work", "outputs")
            refused = self.transport.get_tree(source, dest)
        self.launch.retire(self, target_state)
        return list(refused)

    def collect_logs_dir(self, target_state: TargetState, dest: Path) -> None:
        logs = target_state.logs_dir
        if logs:
            self.transport.get_tree(logs, dest)
        elif not self.run_folder_is_local:
            self.transport.get_tree(join(target_state.folder(), "work", "logs"), dest)

    def agent_alive(self, target_state: TargetState) -> bool | None:
        return self.launch.alive(self, target_state)

    def kill_group(self, target_state: TargetState) -> None:
        self.launch.kill_group(self, target_state)

    def cancel(self, target_state: TargetState) -> None:
        self.launch.cancel(self, target_state)

    def wait_for_change(self, target_state: TargetState, timeout: float) -> None:
        self.launch.wait_for_change(self, target_state, timeout)

    def close(self) -> None:
        self.launch.close()
        self.placement.close()

    # -- shared helpers ---------------------------------------------------------------------
    def compute_file(self) -> str:
        return str(self.compute.path) if self.compute.path else f"{self.compute.name}.compute"

    def process_python(self) -> str:
        """The interpreter named in the launch spec of a process launch."""
        return self.placement.python()

    def process_argv(self, request: LaunchRequest, python: str) -> list[str]:
        return self.script_argv(request, python)

    def script_argv(self, request: LaunchRequest, python: str, *,
                    spark_submit: str | None = None,
                    spark_defaults: dict[str, str] | None = None) -> list[str]:
        """The command the agent starts: the script under ``python``, or under
        ``spark-submit`` for a PySpark run configuration."""
        rc = request.runconfig
        if getattr(rc, "framework", "Python") != "PySpark":
            return [python, *request.command]
        return spark_submit_argv(spark_submit or "spark-submit", request.dependencies.spark,
                                 request.command, master="local[*]", python=python,
                                 defaults=spark_defaults)


def join(*parts: str) -> str:
    return str(PurePosixPath(*parts))



__all__ = [
    "AgentStarted",
    "AgentState",
    "AgentTarget",
    "Dependencies",
    "Launched",
    "LaunchRequest",
    "PrepareResult",
    "Target",
    "TargetState",
    "describe_python",
    "join",
]
