"""Launches: how a target's agent is started and stopped (``launch_process``: a detached
process; ``launch_container``: the main process of a container; a ``spark-submit`` launch for
the cluster type fits the same slot). A launch does everything through the target's placement
(its transport and process helpers), so it works on this machine and over SSH alike.

``launch_spec`` is the one place the agent's launch spec is built.
"""
from __future__ import annotations

import json
from abc import ABC, abstractmethod

from aml_magic.errors import TargetError
from aml_magic.targets.base import (
    Dependencies,
    Launched,
    LaunchRequest,
    PrepareResult,
    ProgressCallback,
    TargetState,
    join,
)
from aml_magic.transports.base import CommandResult

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

    from aml_magic.domain.config import RunConfiguration
    from aml_magic.targets.base import AgentState, AgentTarget


def parse_launch_answer(name: str, result: CommandResult, python: str) -> dict[str, object]:
    """The launcher's answer ``{"pid": N, ...}``, or a ``TargetError`` saying why not."""
    if result.exit_code != 0:
        detail = (result.stderr or result.stdout).decode("utf-8", "replace").strip()
        raise TargetError(f"target '{name}': the run agent did not start ({python}): "
                          f"{detail[-400:] or f'exit code {result.exit_code}'}")
    try:
        answer = dict(json.loads(result.stdout.decode().strip().splitlines()[-1]))
        int(answer["pid"])
    except (ValueError, KeyError, IndexError, TypeError):
        raise TargetError(f"target '{name}': unexpected answer from the run agent: "
                          f"{result.stdout[-200:]!r}") from None
    return answer


def launch_spec(request: LaunchRequest, *, argv: list[str], python: str,
                heartbeat_seconds: float, cwd: str = "work",
                native_share_dir: str | None = None, outputs_dir: str | None = None,
                observe_env: list[str] | None = None) -> bytes:
    """The agent's launch spec (JSON, for its stdin: it carries resolved secrets, so it is
    never written to a file or a container's configuration). ``cwd`` is relative to the run
    folder unless absolute; ``python`` replaces an ``argv[0]`` of ``python``."""
    spec: dict[str, object] = {
        "run_id": request.run_id, "argv": argv, "cwd": cwd, "env": request.env,
        "mask": request.secret_values, "heartbeat_seconds": heartbeat_seconds,
        "python": python}
    if native_share_dir:
        spec["native_share_dir"] = native_share_dir
    if outputs_dir:
        spec["outputs_dir"] = outputs_dir
    if observe_env:        # variables the agent records as the run gets them (status.json)
        spec["observe_env"] = observe_env
    return json.dumps(spec).encode()


class Launch(ABC):
    """Starting, watching and stopping one run's agent."""

    builds_environments: bool = False

    def check(self, target: AgentTarget, runconfig: RunConfiguration) -> None:
        """Refuse what this launch cannot do."""

    def check_secret_destination(self, target: AgentTarget) -> None:
        """Raise unless a launch spec holding secrets may go where this launch sends it."""

    def prepare(self, target: AgentTarget, runconfig: RunConfiguration, dependencies: Dependencies, *,
                on_progress: ProgressCallback | None, build: bool,
                strict: bool) -> PrepareResult:
        python = target.placement.python()
        return PrepareResult(False, f"target '{target.compute.name}' uses a user-managed "
                             f"environment: conda_dependencies.yml is not used; scripts run "
                             f"with {python} on {target.placement.where()} (to build one from "
                             f"it: prepare with --managed)")

    @abstractmethod
    def submit(self, target: AgentTarget, request: LaunchRequest) -> Launched:
        """Sync and start; return the target state to record (``run_dir`` at least)."""

    @abstractmethod
    def alive(self, target: AgentTarget, state: TargetState) -> bool | None: ...

    @abstractmethod
    def cancel(self, target: AgentTarget, state: TargetState) -> None: ...

    def kill_group(self, target: AgentTarget, state: TargetState) -> None:
        """Stop the agent's session, recorded at launch and identity-checked."""
        target.placement.kill_session(state)

    def wait_for_change(self, target: AgentTarget, state: TargetState,
                        timeout: float) -> None:
        target.placement.wait_for_exit(state.agent_pid, timeout)

    def observe_state(self, target: AgentTarget, target_state: TargetState,
                      state: AgentState) -> AgentState:
        """The agent's state as read from the run folder; a launch may refine its reason."""
        return state

    def observe_log(self, target: AgentTarget, target_state: TargetState, local_log: Path,
                    offset: int) -> None:
        """Called after the log's bytes from ``offset`` on were copied to ``local_log``; a
        launch may record facts the log names in ``target_state`` (which reconcile stores)."""

    def retire(self, target: AgentTarget, state: TargetState) -> None:
        """Called once the end state has been read and outputs collected."""

    def close(self) -> None:
        """Release what the launch holds."""


def write_cancel_marker(target: AgentTarget, state: TargetState) -> None:
    target.transport.write_file(join(state.folder(), "cancel"), b"cancel\n")


__all__ = ["Launch", "launch_spec", "write_cancel_marker"]
