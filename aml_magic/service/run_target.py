"""Which target a recorded run is read through: only ever the ``.compute`` file of that name
in ``aml_config/``, never the compute recorded with the run.

A run can write its own folder (read-write in a container), and ``aml history repair``
rebuilds the history from what it finds there, so the recorded configuration is evidence,
not configuration: a forged ``record.json`` naming a stored password reference and another
address must not make ``aml run show`` connect anywhere. A run whose target is gone (or is
now of another type) is *orphaned*: shown as such, and nothing connects for it. The folders
its target state names must be its own (``target_state.foreign_paths``), else it fails with
the reason and nothing on its target is touched.

A run about to be made is checked here too (``check_run``): prepare and submit validate with
that one function, so a run configuration that prepares also submits, and one that is refused
is refused by both with the same line."""
from __future__ import annotations


from aml_magic.domain import registry
from aml_magic.domain.target_state import foreign_paths
from aml_magic.errors import RunOrphaned, TargetError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from aml_magic.domain.config import ComputeTarget, ProjectConfig, RunConfiguration
    from aml_magic.domain.history.records import RunRecord
    from aml_magic.service.workspace import Workspace
    from aml_magic.targets.base import Target

#: Runs that never had a target of their own (a sweep's parent, a notebook's kernel).
_WITHOUT_TARGET = ("sweep", "notebook")


class ForeignFolders(TargetError):
    """The run's recorded folders are not its own: it fails, nothing on its target touched."""


def orphaned_reason(config: ProjectConfig, record: RunRecord) -> str | None:
    """Why ``record``'s target cannot be used for it, or None when it can (or it has none)."""
    return _orphaned(config, record)[0]


def _orphaned(config: ProjectConfig,
              record: RunRecord) -> tuple[str | None, ComputeTarget | None]:
    """``orphaned_reason``, and the target it loaded to tell (None when it loaded none)."""
    if record.kind in _WITHOUT_TARGET:
        return None, None
    name = record.target if record.target.isprintable() else repr(record.target)
    if record.target not in config.compute_names():
        return (f"run {record.run_id} is orphaned: its target '{name}' is not in "
                f"{config.config_dir} any more; nothing is read from or sent to it (attach "
                f"'{name}' again to follow the run)"), None
    compute = config.compute(record.target)
    if compute.type != record.target_type:
        shown = record.target_type if record.target_type.isprintable() else "different"
        return (f"run {record.run_id} is orphaned: it ran on a {shown} target and "
                f"'{name}' is now a {compute.type} target; nothing is read from or "
                "sent to it"), compute
    return None, compute


def compute_of_record(config: ProjectConfig, record: RunRecord) -> ComputeTarget:
    """The run's target as ``aml_config/`` defines it now (its file read once);
    ``RunOrphaned`` when it cannot."""
    reason, compute = _orphaned(config, record)
    if reason is not None:
        raise RunOrphaned(reason)
    return compute if compute is not None else config.compute(record.target)


def refused_paths(compute: ComputeTarget, record: RunRecord, run_folder: Path,
                  project_root: Path) -> str | None:
    """Why the folders ``record`` names on ``compute`` are not the run's own, or None."""
    spec = registry.lookup(compute.type)
    local = spec is not None and spec.placement == "local"
    shared = (str(project_root / "outputs"), str(project_root / "logs")) \
        if compute.shared_volumes and local else ()
    return foreign_paths(record.target_state, record.run_id,
                         local_folder=str(run_folder) if local else None,
                         remote_base=None if local else (compute.remote_base_dir or None),
                         project_folders=shared)


class CheckedRun:
    """A run configuration that passed the checks, its target, and the lines to show once
    (configuration warnings, settings that are read but not used). A plain class: a dataclass
    would cost every CLI submit most of a millisecond at import."""
    __slots__ = ("runconfig", "compute", "target", "notes")

    def __init__(self, runconfig: RunConfiguration, compute: ComputeTarget, target: Target,
                 notes: list[str]) -> None:
        self.runconfig, self.compute, self.target, self.notes = runconfig, compute, target, notes


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
