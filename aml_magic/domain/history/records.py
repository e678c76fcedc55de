"""The values the run history stores: a run, its metrics, its artifacts, its status changes.

Times are seconds since the epoch (``time.time()``), the same unit the agent writes into
``status.json`` and ``metrics.jsonl``, so nothing is converted on the way in.
"""
from __future__ import annotations

import collections
import os
import re
import time
from aml_magic.domain.plain_data import field, plain_data

from aml_magic.errors import AmlError
from aml_magic.domain.history.status import RunStatus
from aml_magic.domain.results import Artifact, Metric  # noqa: F401  (re-exported)
from aml_magic.domain.target_state import TargetState

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NamedTuple
    from aml_magic.domain.envvars import EnvironmentVariables

_UNSAFE_PROJECT_CHARS = re.compile(r"[^A-Za-z0-9_-]+")
RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")


@plain_data
class RunRecord:
    """One run as kept in history. ``config_snapshot`` holds secrets as references only and
    ``environment`` holds secret values already masked: the store writes what it is given."""

    run_id: str
    project: str
    run_configuration: str | None = None
    target: str = "local"
    target_type: str = "local"
    status: RunStatus = RunStatus.QUEUED
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    ended_at: float | None = None
    exit_code: int | None = None
    reason: str | None = None
    command: list[str] = field(default_factory=list)
    script: str | None = None
    config_snapshot: dict[str, Any] = field(default_factory=dict)
    environment: EnvironmentVariables = field(default_factory=dict)
    snapshot_digest: str | None = None
    environment_hash: str | None = None
    git_commit: str | None = None
    git_dirty: bool | None = None
    target_state: TargetState = field(default_factory=TargetState)   # where it lives on its target
    # "script" (a submitted script or cell), "sweep" (the parent of a sweep's child runs),
    # "notebook" (a notebook tracked with ``%azureml history on``)
    kind: str = "script"
    parent_run_id: str | None = None
    # What the run ran with, as found on the target: {"python": path, "python_version": ...,
    # "python_location": what the run configuration asked for}
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.status = parse_status(self.status)

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, or to now while the run is live; None before it starts."""
        if self.started_at is None:
            return None
        end = self.ended_at if self.ended_at is not None else time.time()
        return max(0.0, end - self.started_at)


if TYPE_CHECKING:
    class Transition(NamedTuple):
        status: RunStatus
        time: float
        reason: str | None
else:   # the same tuple without importing typing (~5 % of a CLI start)
    Transition = collections.namedtuple("Transition", ["status", "time", "reason"])
Transition.__doc__ = "One recorded status change."


def parse_status(value: RunStatus | str) -> RunStatus:
    """Accept a RunStatus or its name/value in any case (``completed``, ``COMPLETED``)."""
    if isinstance(value, RunStatus):
        return value
    try:
        return RunStatus(value)     # the stored form: one dict lookup (listings parse 10,000s)
    except ValueError:
        pass
    text = str(value).strip()
    for status in RunStatus:
        if text.lower() in (status.value.lower(), status.name.lower()):
            return status
    names = ", ".join(s.value for s in RunStatus)
    raise AmlError(f"unknown run status {value!r}: use one of {names}")


def sanitize_project_name(project_name: str) -> str:
    """Reduce a project name to ``[A-Za-z0-9_-]`` so a run id is safe as a folder name."""
    cleaned = _UNSAFE_PROJECT_CHARS.sub("-", project_name).strip("-")
    return cleaned or "project"


def new_run_id(project_name: str, *, now: float | None = None) -> str:
    """``<project>_<13-digit epoch ms>_<4 hex>``: ids of one project sort by creation time and
    two processes starting a run in the same millisecond still get different ids."""
    millis = int((time.time() if now is None else now) * 1000)
    return f"{sanitize_project_name(project_name)}_{millis:013d}_{os.urandom(2).hex()}"


def check_run_id(run_id: str) -> str:
    """Refuse ids that could leave the runs folder (``..``, ``/``) before they reach a path."""
    if not isinstance(run_id, str) or not RUN_ID_PATTERN.match(run_id):
        raise AmlError(f"invalid run id {run_id!r}: run ids hold only letters, digits, '_' and '-'; "
                       "see `aml run list` for the ids in this project")
    return run_id
