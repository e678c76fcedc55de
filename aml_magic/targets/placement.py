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

#: How long a launcher may take to answer that its supervisor recorded the run.
LAUNCH_TIMEOUT = 60.0
#: The agent's launcher a one-shot program (``aml experiment submit``) started at its start
#: (``frontends/cli/ahead.py``), for its first local run with this interpreter.
_AHEAD: Any = None


def use_launcher(ahead: Any) -> None:
    """``ahead`` (an ``agent.SpawnedLauncher``, or None) takes this process's next local run
    whose interpreter is this one: its supervisor and the run's interpreter started already."""
    global _AHEAD
    _AHEAD = ahead


def _take_ahead(python: str) -> Any:
    global _AHEAD
    if _AHEAD is None or python != sys.executable:
        return None
    ahead, _AHEAD = _AHEAD, None
    return ahead


def discard_ahead() -> None:
    """Close the launcher started ahead unless a run took it (it, its supervisor and the run's
    interpreter it started exit)."""
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
        ahead = _take_ahead(python)
        if ahead is None:
            return self._start_launcher(request, spec, run_dir, python, synced=False)
        try:
            self.sync(request)
        except BaseException:
            ahead.cancel()
            raise
        try:
            code, out, err = ahead.send(run_dir, spec, timeout=LAUNCH_TIMEOUT)
        except TimeoutError:
            raise TargetError(f"{self.compute.name}: the run agent did not start within "
                              f"{LAUNCH_TIMEOUT:.0f} s") from None
        except OSError:     # it is gone (killed meanwhile): a launcher started now takes the run
            return self._start_launcher(request, spec, run_dir, python, synced=True)
        answer = parse_launch_answer(self.compute.name, CommandResult(code, out, err), python)
        return AgentStarted.from_answer(answer, run_dir=run_dir, target=self.compute.name)

    def _start_launcher(self, request: LaunchRequest, spec: bytes, run_dir: str, python: str,
                        *, synced: bool) -> AgentStarted:
        import subprocess   # loaded by the launcher already; the CLI's is spawned ahead (~7 %)
        launcher = self._launcher(python)
        declared = None if request.secret_values else request.env
        try:
            proc = launcher.start(declared)
        except OSError as exc:
            raise TargetError(f"{self.compute.name}: cannot start {python}: {exc.strerror}") \
                from None
        try:
            if not synced:
                self.sync(request)
        except BaseException:
            proc.kill()
            proc.communicate()
            raise
        try:
            out, err = proc.communicate(os.fsencode(run_dir) + b"\0" + spec,
                                        timeout=LAUNCH_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise TargetError(f"{self.compute.name}: the run agent did not start within "
                              f"{LAUNCH_TIMEOUT:.0f} s") from None
        answer = parse_launch_answer(self.compute.name, CommandResult(proc.returncode, out, err),
                                     python)
        started = AgentStarted.from_answer(answer, run_dir=run_dir, target=self.compute.name)
        launcher.refill(started.pid)
        self._spare.refill(request.manifest, started.pid)
        return started

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
