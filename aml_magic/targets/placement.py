"""Placements: where a run folder lives, the ``Transport`` that reaches it, and how the snapshot
gets there. ``LocalPlacement`` is this machine (the run folder is the history's own
``.aml/runs/<id>/``, the snapshot a local copy); ``placement_remote.RemotePlacement`` is a
machine over SSH with a content-addressed store.

A launch (``launch_process``, ``launch_container``) starts and stops the agent through these
methods only, so it works on any placement.
"""
from __future__ import annotations

import os
import select
import sys
import threading
import time
from abc import ABC, abstractmethod
from pathlib import Path

from aml_magic.domain import runfolder
from aml_magic.errors import TargetError
from aml_magic.transports.base import CommandResult, Transport
from aml_magic.targets.base import LaunchRequest
from aml_magic.targets.local_spare import LocalSpare
from aml_magic.targets.warm_launcher import WarmLauncher
from aml_magic.agent import AGENT_DIR, launch_command
from aml_magic.agent._supervisor import fork_launch
from aml_magic.domain.snapshot.ship import materialize
from aml_magic.targets.launch import parse_launch_answer
from aml_magic.transports.local import LocalTransport
from aml_magic.targets.base import AgentStarted, TargetState

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any
    from aml_magic.domain.config import ComputeTarget, RunConfiguration
    from aml_magic.domain.secrets import SecretStore


#: ``pythonLocation`` values meaning "the project's interpreter" on this machine (see
#: ``LocalPlacement.python``): a name, not a path, so PATH would pick any Python.
PROJECT_INTERPRETER = frozenset({"python", "python3"})

#: Set by a one-shot program (``aml experiment submit``, ``fork_supervisors``): a local run's
#: supervisor is forked from it instead of started as an interpreter of its own.
_FORK_SUPERVISORS = False
#: The supervisor that program forked at its start (``agent._supervisor.fork_ahead_client``),
#: for its first local run.
_AHEAD: Any = None


def fork_supervisors(ahead: Any = None) -> None:
    """This process ends with its command: the detached supervisor of a local run may be a
    fork of it (one interpreter start less per submit; the supervisor then holds a copy of
    this process's memory for as long as the run lives), or ``ahead``, the one it forked at its
    start (``frontends/cli/ahead.py``). Only while it has one thread and the run's interpreter
    is this one."""
    global _FORK_SUPERVISORS, _AHEAD
    _FORK_SUPERVISORS = True
    _AHEAD = ahead


def discard_ahead() -> None:
    """Close the supervisor forked ahead unless a run took it (it and its interpreter exit)."""
    global _AHEAD
    ahead, _AHEAD = _AHEAD, None
    if ahead is not None:
        ahead.cancel()


class Placement(ABC):
    """Where the run folders of one target live."""

    #: True when the run folder is the history's own folder (nothing to copy back).
    run_folder_is_local: bool = False
    #: The interpreter of the environment a submit runs in (``userManagedEnvironment: false``,
    #: set by ``machine_environment.OwnEnvironment`` for that submit only).
    interpreter: str | None = None

    def __init__(self, compute: ComputeTarget, *, project_root: Path,
                 secrets: SecretStore) -> None:
        self.compute = compute
        self.project_root = project_root
        self.secrets = secrets
        self._transport: Transport | None = None

    @property
    def transport(self) -> Transport:
        if self._transport is None:
            self._transport = self._make_transport()
        return self._transport

    @abstractmethod
    def _make_transport(self) -> Transport: ...

    def check(self, runconfig: RunConfiguration) -> None:
        """Refuse what this placement cannot do (before anything is recorded)."""

    def check_secret_destination(self) -> None:
        """Raise unless a launch holding secrets may go where this placement runs (this
        machine: always)."""

    @abstractmethod
    def run_dir(self, request: LaunchRequest) -> str:
        """Where the run folder lives on the machine."""

    @abstractmethod
    def sync(self, request: LaunchRequest) -> TargetState:
        """Make ``<run_dir>/work`` the run's copy of the project and put the agent's files
        where ``agent_dir`` says; return what to record (``run_dir`` absolute, ...)."""

    @abstractmethod
    def agent_dir(self, run_dir: str) -> str:
        """The folder holding ``supervisor.py`` on the machine, after ``sync``."""

    @abstractmethod
    def python(self) -> str:
        """The machine's interpreter for the agent (and scripts, on a process launch)."""

    @abstractmethod
    def start_agent(self, request: LaunchRequest, spec: bytes) -> AgentStarted:
        """Sync and start the agent detached with ``spec`` on its stdin."""

    # -- the agent's processes on the machine: only the identity recorded at launch ----------
    # (``agent_pid``/``agent_start``/``agent_sid`` from the launcher's answer), checked by
    # ``agent/proctool.py`` on the machine; never an id read from the run folder.
    def agent_alive(self, state: TargetState) -> bool | None:
        return runfolder.proc_over(self.transport, self.python(), "alive", state)

    def signal_agent(self, state: TargetState) -> None:
        runfolder.proc_over(self.transport, self.python(), "signal", state)

    def kill_session(self, state: TargetState) -> None:
        runfolder.proc_over(self.transport, self.python(), "kill-session", state)

    def wait_for_exit(self, pid: int | None, timeout: float) -> None:
        time.sleep(timeout)

    def where(self) -> str:
        """The machine, for messages."""
        return "this machine"

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None


class LocalPlacement(Placement):
    """This machine: the run folder is the history's, the snapshot copied into it."""

    run_folder_is_local = True

    def __init__(self, compute: ComputeTarget, *, project_root: Path,
                 secrets: SecretStore) -> None:
        super().__init__(compute, project_root=project_root, secrets=secrets)
        self._warm: WarmLauncher | None = None
        self._spare = LocalSpare(project_root)

    def _make_transport(self) -> Transport:
        return LocalTransport()

    def run_dir(self, request: LaunchRequest) -> str:
        return str(request.run_folder)

    def sync(self, request: LaunchRequest) -> TargetState:
        run_dir = Path(self.run_dir(request))
        run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not self._spare.take(request.manifest, run_dir / "work"):  # see local_spare.py
            materialize(request.manifest, request.source, run_dir / "work")
        return TargetState(run_dir=str(run_dir))

    def agent_dir(self, run_dir: str) -> str:
        return str(AGENT_DIR)           # this machine already has it: nothing to ship

    def python(self) -> str:
        """``pythonLocation`` as a path or a name on PATH; absent, or the bare ``python`` /
        ``python3`` every Workbench ``local.compute`` has, it is the project's interpreter (the
        one running aml_magic: the kernel, the CLI's venv), never whatever PATH finds first."""
        if self.interpreter:
            return self.interpreter
        return self.base_python()

    def base_python(self) -> str:
        """``python`` without a managed environment: what a user-managed run uses, and what
        a managed environment is made from."""
        configured = self.compute.python_location
        if not configured or configured.strip() in PROJECT_INTERPRETER:
            return sys.executable
        import shutil  # a named interpreter only: shutil (bz2, lzma) stays off the submit path
        found = shutil.which(os.path.expanduser(configured))
        if not found:
            raise TargetError(f"{self.compute.name}.compute: pythonLocation '{configured}' was "
                              "not found on this machine; fix pythonLocation or remove it to use "
                              f"{sys.executable}")
        return found

    def start_agent(self, request: LaunchRequest, spec: bytes) -> AgentStarted:
        """The launcher's interpreter starts while the snapshot is copied (or was started
        before the submit, see ``WarmLauncher``): it waits for the run folder and the spec on
        its stdin, so the two overlap."""
        run_dir = self.run_dir(request)
        python = self.python()
        if _FORK_SUPERVISORS and python == sys.executable and threading.active_count() == 1:
            return self._fork_agent(request, spec, run_dir, python)
        import subprocess   # loaded by the launcher already; the CLI forks instead (~7 %)
        launcher = self._launcher(python)
        declared = None if request.secret_values else request.env
        try:
            proc = launcher.start(declared)
        except OSError as exc:
            raise TargetError(f"{self.compute.name}: cannot start {python}: {exc.strerror}") \
                from None
        try:
            self.sync(request)
        except BaseException:
            proc.kill()
            proc.communicate()
            raise
        try:
            out, err = proc.communicate(os.fsencode(run_dir) + b"\0" + spec, timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise TargetError(f"{self.compute.name}: the run agent did not start within 60 s") \
                from None
        answer = parse_launch_answer(self.compute.name, CommandResult(proc.returncode, out, err),
                                     python)
        started = AgentStarted.from_answer(answer, run_dir=run_dir, target=self.compute.name)
        launcher.refill(started.pid)
        self._spare.refill(request.manifest, started.pid)
        return started

    def _fork_agent(self, request: LaunchRequest, spec: bytes, run_dir: str,
                    python: str) -> AgentStarted:
        """``start_agent`` in a one-shot process (``fork_supervisors``): sync, then fork the
        detached supervisor from this process."""
        self.sync(request)
        global _AHEAD
        ahead, _AHEAD = _AHEAD, None
        out = fork_launch(run_dir, spec, ahead)
        answer = parse_launch_answer(
            self.compute.name, CommandResult(0 if out else 1, out, b"" if out else (
                f"the supervisor stopped before recording the run; see {run_dir}/agent.log"
                .encode())), python)
        return AgentStarted.from_answer(answer, run_dir=run_dir, target=self.compute.name)

    def _launcher(self, python: str) -> WarmLauncher:
        argv = launch_command(python, str(AGENT_DIR), "-")
        if self._warm is None or self._warm.argv != argv:
            if self._warm is not None:
                self._warm.close()
            self._warm = WarmLauncher(argv)
        return self._warm

    def close(self) -> None:
        if self._warm is not None:
            self._warm.close()
            self._warm = None
        self._spare.close()
        super().close()

    def agent_alive(self, state: TargetState) -> bool | None:
        return runfolder.local_alive(state)

    def signal_agent(self, state: TargetState) -> None:
        runfolder.local_signal_agent(state)

    def kill_session(self, state: TargetState) -> None:
        runfolder.local_kill_session(state)

    def wait_for_exit(self, pid: int | None, timeout: float) -> None:
        """Wake as soon as the agent exits (it exits right after writing the end state)."""
        try:
            fd = os.pidfd_open(int(pid))  # type: ignore[arg-type]
        except (AttributeError, OSError, TypeError, ValueError):
            time.sleep(min(timeout, 0.01))
            return
        try:
            select.select([fd], [], [], timeout)
        finally:
            os.close(fd)


__all__ = ["PROJECT_INTERPRETER", "LocalPlacement", "Placement"]
