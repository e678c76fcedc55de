"""What the agent found in the run's environment as the run got it (``AgentState.observed_env``:
on Slurm, ``CUDA_VISIBLE_DEVICES``, the GPUs the allocation gave), into the run's environment
section (``RunRecord.environment``: ``aml run show``, the widget, ``aml history compare``).

A value the agent saw is shown as it saw it. An unset one is shown as ``(not set)`` only when
the run asked for GPUs (the target's ``gpus``): a GPU job without the variable is worth seeing;
a CPU job's absent variable is not. A variable the run configuration declares itself stays as
the record has it (masked when it is a secret)."""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Mapping

    from aml_magic.domain.history.records import RunRecord

NOT_SET = "(not set)"


def observed_environment(record: RunRecord,
                         observed: Mapping[str, str | None] | None) -> dict[str, Any] | None:
    """The record's environment with what the agent observed added; None when that changes
    nothing (so the caller writes nothing)."""
    if not observed:
        return None
    compute = record.config_snapshot.get("compute") or {}
    asked_gpus = isinstance(compute, dict) and bool(compute.get("gpus"))
    environment = dict(record.environment or {})
    changed = False
    for name, value in observed.items():
        if name in environment:
            continue
        if value is None and not asked_gpus:
            continue
        environment[name] = NOT_SET if value is None else value
        changed = True
    return environment if changed else None


__all__ = ["NOT_SET", "observed_environment"]
