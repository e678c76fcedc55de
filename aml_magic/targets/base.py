"""A compute target is a template of named stages (prepare, sync, launch, poll, cancel, collect).

``AgentTarget`` implements every stage once over a :class:`Transport`: the agent is shipped next
to the run, started detached, and afterwards only read. Local and remote targets differ only in
their transport, where the run folder lives and how the snapshot gets there.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable

from .. import runfolder
from ..agent import agent_files, launch_command
from ..errors import TargetError
from ..transports.tarstream import tar_of_files
from ..transports.base import CommandResult, Transport

ProgressCallback = Callable[[str], None]


@dataclass
class PrepareResult:
    """What ``prepare`` did: ``built`` false means an existing environment was reused or none is
    needed; ``message`` is the one line a front end shows."""
    built: bool
    message: str
    environment_hash: str | None = None
    seconds: float = 0.0


@dataclass
class LaunchRequest:
    """Everything a target needs to start one run. ``env`` and ``secret_values`` hold resolved
    secret values: they go to the agent on stdin (``env`` and ``mask``) and are never stored;
    the agent masks ``secret_values`` in the run's ``log.txt``."""
    run_id: str
    command: list[str]                  # script and arguments, after ``$file`` substitution
    env: dict[str, str]
    manifest: Any                       # snapshot.Manifest
    project_root: Path
    run_folder: Path                    # <project>/.aml/runs/<id>/ (history side)
    runconfig: Any                      # config.RunConfiguration
    environment_hash: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    secret_values: list[str] = field(default_factory=list, repr=False)


@dataclass
class AgentState:
    """The agent's ``status.json`` as the client sees it."""
    state: str                          # Running | Completed | Failed | Canceled | Missing
    exit_code: int | None = None
    reason: str | None = None
    started: float | None = None
    ended: float | None = None
    heartbeat: float | None = None
    heartbeat_seconds: float = 1.0
    pid: int | None = None
    child_pgid: int | None = None       # never filled from the run folder: never signalled
    malformed: str | None = None        # why status.json was refused (the run wrote it)

    @property
    def is_final(self) -> bool:
        return self.state in ("Completed", "Failed", "Canceled")


class Target(ABC):
    """One compute target, as named by a ``.compute`` file."""

    type_name: str = ""
    builds_environments: bool = False

    def __init__(self, compute: Any, *, project_root: Path, secrets: Any) -> None:
        self.compute = compute
        self.project_root = project_root
        self.secrets = secrets

    # -- stages -----------------------------------------------------------------------------
    def check(self, runconfig: Any) -> None:
        """Refuse a run configuration this target cannot run, before anything is recorded."""

    def prepare(self, runconfig: Any, *, on_progress: ProgressCallback | None = None,
                build: bool = True, strict: bool = False) -> PrepareResult:
        return PrepareResult(False, f"target '{self.compute.name}' uses a user-managed "
                                    "environment: there is nothing to prepare")

    @abstractmethod
    def submit(self, request: LaunchRequest) -> dict[str, Any]:
        """Sync the snapshot, launch the agent; return the target state to record."""

    @abstractmethod
    def read_state(self, target_state: dict[str, Any]) -> AgentState: ...

    @abstractmethod
    def sync_log(self, target_state: dict[str, Any], local_log: Path) -> None: ...

    @abstractmethod
    def read_metrics(self, target_state: dict[str, Any], offset: int,
                     limit: int = runfolder.METRICS_CHUNK) -> bytes: ...

    @abstractmethod
    def collect_outputs(self, target_state: dict[str, Any], dest: Path) -> list[str]:
        """Copy the run's ``./outputs/`` into ``dest``; return refused paths."""

    def collect_logs_dir(self, target_state: dict[str, Any], dest: Path) -> None:
        """Copy the run's ``./logs/`` into ``dest`` while it is live."""

    @abstractmethod
    def agent_alive(self, target_state: dict[str, Any]) -> bool | None:
        """True/False when it can be told, None when the target cannot be reached."""

    @abstractmethod
    def cancel(self, target_state: dict[str, Any]) -> None: ...

    def kill_group(self, target_state: dict[str, Any]) -> None:
        """Stop what the agent left behind when it died: the session (or container) recorded
        at launch, identity checked; never a process id read from the run folder."""

    def wait_for_change(self, target_state: dict[str, Any], timeout: float) -> None:
        """Block up to ``timeout`` seconds, returning early when the target can tell that the
        run's state changed (the local target watches the agent's process)."""
        time.sleep(timeout)

    def close(self) -> None:
        """Release connections."""


class AgentTarget(Target):
    """Shared implementation over a transport; subclasses choose the transport, the run folder
    on the target, the interpreter and how the snapshot is synced."""

    heartbeat_seconds: float = 1.0
    #: True when the run folder on the target is the history's run folder (the local target):
    #: then the log and ``./logs/`` need no copying.
    run_folder_is_local: bool = False

    def __init__(self, compute: Any, *, project_root: Path, secrets: Any) -> None:
        super().__init__(compute, project_root=project_root, secrets=secrets)
        self._transport: Transport | None = None
        self._agent_dir_cache: str | None = None

    # -- hooks for subclasses ---------------------------------------------------------------
    @abstractmethod
    def _make_transport(self) -> Transport: ...

    @abstractmethod
    def _run_dir(self, request: LaunchRequest) -> str:
        """Where the run folder lives on the target."""

    @abstractmethod
    def _python(self) -> str:
        """The interpreter on the target that runs the agent and the script."""

    @abstractmethod
    def _sync_snapshot(self, request: LaunchRequest, run_dir: str) -> None:
        """Make ``run_dir/work`` the run's own copy of the project."""

    def _argv(self, request: LaunchRequest, python: str) -> list[str]:
        """The command the agent starts: the script under the target's interpreter."""
        return [python, *request.command]

    def _native_share_dir(self) -> str | None:
        return getattr(self.compute, "native_shared_directory", None)

    # -- shared stages ----------------------------------------------------------------------
    @property
    def transport(self) -> Transport:
        if self._transport is None:
            self._transport = self._make_transport()
        return self._transport

    def submit(self, request: LaunchRequest) -> dict[str, Any]:
        run_dir = self._run_dir(request)
        self._sync_snapshot(request, run_dir)
        agent_dir = self._agent_dir()
        python = self._python()
        result = self.transport.run(launch_command(python, agent_dir, run_dir),
                                    stdin=self._launch_spec(request, run_dir, python),
                                    timeout=60, check=False)
        return self._launched(result, run_dir, python)

    def _launch_spec(self, request: LaunchRequest, run_dir: str, python: str) -> bytes:
        """The agent's launch spec (JSON, on its stdin: it carries resolved secrets)."""
        spec = {
            "run_id": request.run_id,
            "argv": self._argv(request, python),
            "cwd": _join(run_dir, "work"),
            "env": request.env,
            "mask": request.secret_values,
            "heartbeat_seconds": self.heartbeat_seconds,
            "python": python,
        }
        share = self._native_share_dir()
        if share:
            spec["native_share_dir"] = share
        return json.dumps(spec).encode()

    def _launched(self, result: CommandResult, run_dir: str, python: str) -> dict[str, Any]:
        """The target state to record, from the launcher's answer ``{"pid": N, ...}``."""
        if result.exit_code != 0:
            detail = (result.stderr or result.stdout).decode("utf-8", "replace").strip()
            raise TargetError(f"target '{self.compute.name}': the run agent did not start "
                              f"({python}): {detail[-400:] or 'exit code %d' % result.exit_code}")
        try:
            answer = json.loads(result.stdout.decode().strip().splitlines()[-1])
            pid = int(answer["pid"])
        except (ValueError, KeyError, IndexError, TypeError):
            raise TargetError(f"target '{self.compute.name}': unexpected answer from the run "
                              f"agent: {result.stdout[-200:]!r}") from None
        return {"run_dir": run_dir, "agent_pid": pid, **runfolder.launch_identity(answer),
                "metrics_offset": 0, "heartbeat_seconds": self.heartbeat_seconds}

    def _agent_root(self) -> str:
        """Folder on the target holding agent versions (``<root>/<content hash>/``)."""
        raise NotImplementedError

    def _agent_dir(self) -> str:
        """The agent's folder on the target, shipped once per agent version: nothing in it is
        run-specific, and re-sending it with every run would cost each launch."""
        if self._agent_dir_cache is None:
            files = agent_files()
            digest = hashlib.sha256()
            for name, data in sorted(files.items()):
                digest.update(name.encode() + b"\0" + data + b"\0")
            path = _join(self._agent_root(), digest.hexdigest()[:16])
            if not self.transport.exists(_join(path, "supervisor.py")):
                staging = f"{path}.tmp-{os.getpid()}"
                self.transport.put_tar(tar_of_files(files), staging)
                self.transport.run(["mv", "-T", staging, path], check=False)
                self.transport.run(["rm", "-rf", staging], check=False)
            self._agent_dir_cache = path
        return self._agent_dir_cache

    def read_state(self, target_state: dict[str, Any]) -> AgentState:
        return runfolder.read_status(self.transport, _join(target_state["run_dir"], "status.json"),
                                     heartbeat_seconds=self.heartbeat_seconds)

    def sync_log(self, target_state: dict[str, Any], local_log: Path) -> None:
        if self.run_folder_is_local:
            return
        remote = _join(target_state["run_dir"], "log.txt")
        offset = local_log.stat().st_size if local_log.exists() else 0
        chunk = self.transport.read_file(remote, offset, runfolder.LOG_CHUNK)
        if chunk:
            runfolder.append_nofollow(local_log.parent, local_log.name, chunk)

    def read_metrics(self, target_state: dict[str, Any], offset: int,
                     limit: int = runfolder.METRICS_CHUNK) -> bytes:
        return self.transport.read_file(_join(target_state["run_dir"], "metrics.jsonl"), offset,
                                        limit)

    def collect_outputs(self, target_state: dict[str, Any], dest: Path) -> list[str]:
        return self.transport.get_tree(_join(target_state["run_dir"], "work", "outputs"), dest)

    def collect_logs_dir(self, target_state: dict[str, Any], dest: Path) -> None:
        if not self.run_folder_is_local:
            self.transport.get_tree(_join(target_state["run_dir"], "work", "logs"), dest)

    def agent_alive(self, target_state: dict[str, Any]) -> bool | None:
        return runfolder.proc_over(self.transport, self._python(), "alive", target_state)

    def kill_group(self, target_state: dict[str, Any]) -> None:
        runfolder.proc_over(self.transport, self._python(), "kill-session", target_state)

    def cancel(self, target_state: dict[str, Any]) -> None:
        run_dir = target_state["run_dir"]
        self.transport.write_file(_join(run_dir, "cancel"), b"cancel\n")  # renamed over: no-follow
        runfolder.proc_over(self.transport, self._python(), "signal", target_state)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None


def _join(*parts: str) -> str:
    return str(PurePosixPath(*parts))


__all__ = ["Target", "AgentTarget", "AgentState", "LaunchRequest", "PrepareResult"]
