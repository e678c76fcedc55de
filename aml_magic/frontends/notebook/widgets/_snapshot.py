"""What a run looks like at one moment, read from a ``Run`` handle without touching ipywidgets.

The run widget, the text/HTML fallbacks and the tests all work from a :class:`RunSnapshot`, so
rendering is testable without a browser and the watcher thread is the only code that reads.
"""
from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aml_magic.domain.history.status import RunStatus

# One format for durations, sizes and values everywhere (CLI, magics, widgets); re-exported here
# for the renderers that import them from this module.
from aml_magic.frontends.render import format_duration, format_size, format_value
from aml_magic.service.schema import interpreter_text, isolation_summary, mask_environment

if TYPE_CHECKING:
    from aml_magic.domain.history.records import Artifact, Metric, RunRecord
    from aml_magic.service.run import Run
    from aml_magic.domain.target_state import TargetState


def _spark_app(target_state: TargetState) -> str | None:
    """The Spark application of a run (id, and UI address when known) for the header."""
    if not target_state.spark_app_id:
        return None
    ui = target_state.spark_ui
    return target_state.spark_app_id + (f" ({ui})" if ui else "")


def _slurm_job(target_state: TargetState) -> str | None:
    """The Slurm job of a run, with its partition and node when known, for the header."""
    if not target_state.slurm_job_id:
        return None
    where = [f"{k} {v}" for k, v in (("partition", target_state.slurm_partition),
                                      ("node", target_state.slurm_node)) if v]
    return target_state.slurm_job_id + (f" ({', '.join(where)})" if where else "")


__all__ = ["LogTail", "MetricSeries", "RunSnapshot", "elapsed_seconds", "format_duration",
           "format_size", "format_value", "group_metrics", "mask_environment", "snapshot_of"]

TAIL_LINES = 200


class LogTail:
    """The last ``limit`` lines of a growing log, fed in chunks that may split lines."""

    def __init__(self, limit: int = TAIL_LINES) -> None:
        self.lines: deque[str] = deque(maxlen=limit)
        self.partial = ""
        self.total_lines = 0

    def feed(self, text: str) -> bool:
        """Append a chunk; returns whether anything changed."""
        if not text:
            return False
        pieces = (self.partial + text).split("\n")
        self.partial = pieces.pop()
        self.lines.extend(pieces)
        self.total_lines += len(pieces)
        return True

    def text(self) -> str:
        shown = list(self.lines) + ([self.partial] if self.partial else [])
        return "\n".join(shown)

    @property
    def truncated(self) -> bool:
        return self.total_lines > (self.lines.maxlen or 0)


@dataclass
class MetricSeries:
    """All values logged under one name, in step order; a list-valued metric is a series too."""

    name: str
    values: list[Any]

    @property
    def last(self) -> Any:
        return self.values[-1] if self.values else None

    @property
    def numbers(self) -> list[float]:
        return [float(v) for v in self.values
                if isinstance(v, (int, float)) and not isinstance(v, bool)]

    @property
    def is_series(self) -> bool:
        return len(self.values) > 1


@dataclass
class RunSnapshot:
    """One consistent view of a run for rendering."""

    run_id: str
    target: str = ""
    target_type: str = ""
    run_configuration: str | None = None
    status: RunStatus = RunStatus.QUEUED
    elapsed: float | None = None
    exit_code: int | None = None
    reason: str | None = None
    log_tail: str = ""
    log_truncated: bool = False
    metrics: list[MetricSeries] = field(default_factory=list)
    environment: dict[str, str] = field(default_factory=dict)
    outputs: list[tuple[str, int]] = field(default_factory=list)
    error: str | None = None          # why the last refresh failed (shown, never raised)
    spark_app: str | None = None      # "app-... (http://...:4040)" read from the driver's log
    slurm_job: str | None = None      # "123 (partition debug, node n1)" on a Slurm target
    python: str | None = None         # the interpreter the run used, as found on the target
    hint: str | None = None           # what to do about a Workbench module the run lacked
    build_tail: str | None = None     # last lines of the environment build the submit triggered
    isolation: str | None = None      # "reduced: ..." when the user allowed weakening options
    seen_at: float = field(default_factory=time.time)   # when this was read: "last known"

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal()


def group_metrics(metrics: Iterable[Any]) -> list[MetricSeries]:
    """Group ``Metric`` rows by name; a single list value becomes the series itself."""
    ordered: dict[str, list[tuple[int, Any]]] = {}
    for index, metric in enumerate(metrics):
        step = metric.step if getattr(metric, "step", None) is not None else index
        ordered.setdefault(metric.name, []).append((step, metric.value))
    result = []
    for name, rows in ordered.items():
        values = [value for _, value in sorted(rows, key=lambda row: row[0])]
        if len(values) == 1 and isinstance(values[0], list):
            values = list(values[0])
        result.append(MetricSeries(name, values))
    return result


def elapsed_seconds(record: RunRecord, *, now: float | None = None) -> float | None:
    """Seconds since the run started (or was created), up to its end."""
    start = record.started_at or record.created_at
    if start is None:
        return None
    end = record.ended_at
    end = end if end is not None else (time.time() if now is None else now)
    return max(0.0, float(end) - float(start))


def snapshot_of(run: Run, record: RunRecord, tail: LogTail, *,
                metrics: list[Metric] | None = None, outputs: list[Artifact] | None = None,
                error: str | None = None, build_tail: str | None = None) -> RunSnapshot:
    """Build a snapshot from a run's record plus what the watcher has read so far."""
    return RunSnapshot(
        run_id=run.id,
        target=record.target or "",
        target_type=record.target_type or "",
        run_configuration=record.run_configuration,
        status=RunStatus(record.status),
        elapsed=elapsed_seconds(record),
        exit_code=record.exit_code,
        reason=record.reason,
        log_tail=tail.text(),
        log_truncated=tail.truncated,
        metrics=group_metrics(metrics or []),
        environment=mask_environment(record.environment),
        outputs=[(a.path, int(a.size)) for a in (outputs or [])],
        error=error,
        spark_app=_spark_app(record.target_state),
        slurm_job=_slurm_job(record.target_state),
        python=interpreter_text(record.provenance) or record.target_state.python,
        hint=_hint(record),
        build_tail=build_tail,
        isolation=isolation_summary(record.config_snapshot.get("isolation")),
    )


def _hint(record: RunRecord) -> str | None:
    hint = record.provenance.get("hint")
    return hint if isinstance(hint, str) else None
