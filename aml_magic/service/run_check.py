"""What prepare and submit both check before they do anything: one function, so a run
configuration that prepares also submits, and one that is refused is refused by both."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from aml_magic.domain.config import ComputeTarget, RunConfiguration
    from aml_magic.service.workspace import Workspace
    from aml_magic.targets.base import Target


@dataclass
class CheckedRun:
    """A run configuration that passed the checks, its target, and the lines to show once
    (configuration warnings, settings that are read but not used)."""
    runconfig: RunConfiguration
    compute: ComputeTarget
    target: Target
    notes: list[str] = field(default_factory=list)


def check_run(workspace: Workspace, rc: RunConfiguration, *,
              on_notes: Callable[[list[str]], None] | None = None) -> CheckedRun:
    """Validate ``rc`` for this machine without reaching the target (no connection, no engine):
    its ``.compute`` exists and is one this target type can run, the files a run reads load
    (conda when the target builds environments, Spark for PySpark), a stored login is bound to
    the host the file names. Raises ``AmlError`` (one line) on the first problem; ``on_notes``
    gets the lines to show before that (a warning may explain the error)."""
    compute = workspace.config.target_of(rc)
    notes = [*rc.warnings, *compute.warnings]
    unused = compute.unused_share_note()
    if unused:
        notes.append(unused)
    if on_notes is not None:
        on_notes(notes)
    target = workspace.target_for(compute)
    target.check(rc)
    workspace.config.check_run(rc, builds_environments=target.builds_environments)
    return CheckedRun(rc, compute, target, notes)
