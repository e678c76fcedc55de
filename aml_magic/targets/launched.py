"""What starting a run hands back: the launcher's answer (``Placement.start_agent``) and what
``Target.submit`` returns (the state to record, and the interpreter facts for provenance)."""
from __future__ import annotations

from collections.abc import Mapping
from aml_magic.domain.plain_data import plain_data

from aml_magic.domain import runfolder
from aml_magic.domain.provenance import python_facts
from aml_magic.domain.target_state import TargetState
from aml_magic.errors import TargetError


@plain_data
class AgentStarted:
    """The launcher's answer once the detached agent runs (``Placement.start_agent``)."""
    run_dir: str
    pid: int
    identity: tuple[int, int] | None    # (start, sid): see ``runfolder.launch_identity``
    python_facts: dict[str, str] | None = None
    sync: str | None = None             # remote placement: how the snapshot got there
    copied_files: int | None = None

    @classmethod
    def from_answer(cls, answer: Mapping[str, object], *, run_dir: str,
                    target: str) -> AgentStarted:
        """The answer as the launcher (or the remote helper) printed it; a ``TargetError``
        naming ``target`` without the agent's pid."""
        pid = answer.get("pid")
        if type(pid) is not int or pid <= 0:
            raise TargetError(f"target '{target}': unexpected answer from the run agent: "
                              f"{str(dict(answer))[:200]}")
        sync, copied = answer.get("sync"), answer.get("copied_files")
        return cls(run_dir=run_dir, pid=pid, identity=runfolder.launch_identity(answer),
                   python_facts=python_facts(answer.get("python")),
                   sync=sync if isinstance(sync, str) else None,
                   copied_files=copied if type(copied) is int else None)


@plain_data
class Launched:
    """What ``submit`` returns: the state to record, and the interpreter facts the agent
    reported (they go to ``RunRecord.provenance``, not into the target state)."""
    state: TargetState
    python_facts: dict[str, str] | None = None
    queued: bool = False        # a scheduler holds it (Slurm): recorded Queued, not Running


__all__ = ["AgentStarted", "Launched"]
