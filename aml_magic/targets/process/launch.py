"""The agent as a detached process on the placement's machine (``local`` and ``remote``)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aml_magic.domain import runfolder
from aml_magic.errors import TargetError
from aml_magic.domain.provenance import PYTHON_FACTS, describe_python, python_facts
from aml_magic.targets.base import LaunchRequest
from aml_magic.targets.launch import Launch, launch_spec, write_cancel_marker

if TYPE_CHECKING:
    from aml_magic.targets.base import AgentTarget


class ProcessLaunch(Launch):
    """``supervisor.py launch``: forks a detached supervisor, answers ``{"pid": N}``."""

    def submit(self, target: AgentTarget, request: LaunchRequest) -> dict[str, Any]:
        python = target.process_python()
        spec = launch_spec(request, argv=target.process_argv(request, python), python=python,
                           heartbeat_seconds=target.heartbeat_seconds,
                           native_share_dir=target.compute.native_shared_directory)
        answer = target.placement.start_agent(request, spec)
        try:
            pid = int(answer["pid"])
        except (KeyError, TypeError, ValueError):
            raise TargetError(f"target '{target.compute.name}': unexpected answer from the run "
                              f"agent: {str(answer)[:200]}") from None
        state: dict[str, Any] = {"run_dir": answer["run_dir"], "agent_pid": pid,
                                 **runfolder.launch_identity(answer), "metrics_offset": 0,
                                 "heartbeat_seconds": target.heartbeat_seconds}
        for key in ("sync", "copied_files"):
            if answer.get(key) is not None:
                state[key] = answer[key]
        interpreter = describe_python(answer.get("python"))
        if interpreter:
            state["python"] = interpreter
            state[PYTHON_FACTS] = python_facts(answer.get("python"))
        return state

    def alive(self, target: AgentTarget, state: dict[str, Any]) -> bool | None:
        return target.placement.agent_alive(state)

    def cancel(self, target: AgentTarget, state: dict[str, Any]) -> None:
        write_cancel_marker(target, state)
        target.placement.signal_agent(state)


__all__ = ["ProcessLaunch"]
