"""The agent as a detached process on the placement's machine (``local`` and ``remote``)."""
from __future__ import annotations


from aml_magic.domain.provenance import describe_python
from aml_magic.targets.base import LaunchRequest
from aml_magic.targets.base import Launched, TargetState
from aml_magic.targets.launch import Launch, launch_spec, write_cancel_marker

TYPE_CHECKING = False
if TYPE_CHECKING:
    from aml_magic.targets.base import AgentTarget


class ProcessLaunch(Launch):
    """``supervisor.py launch``: forks a detached supervisor, answers ``{"pid": N}``."""

    def submit(self, target: AgentTarget, request: LaunchRequest) -> Launched:
        python = target.process_python()
        spec = launch_spec(request, argv=target.process_argv(request, python), python=python,
                           heartbeat_seconds=target.heartbeat_seconds,
                           native_share_dir=target.compute.native_shared_directory)
        started = target.placement.start_agent(request, spec)
        start, sid = started.identity or (None, None)
        state = TargetState(run_dir=started.run_dir, agent_pid=started.pid, agent_start=start,
                            agent_sid=sid, metrics_offset=0,
                            heartbeat_seconds=target.heartbeat_seconds, sync=started.sync,
                            copied_files=started.copied_files,
                            python=describe_python(started.python_facts))
        return Launched(state, started.python_facts)

    def alive(self, target: AgentTarget, state: TargetState) -> bool | None:
        return target.placement.agent_alive(state)

    def cancel(self, target: AgentTarget, state: TargetState) -> None:
        write_cancel_marker(target, state)
        target.placement.signal_agent(state)


__all__ = ["ProcessLaunch"]
