"""Where a run lives on its target: ``RunRecord.target_state``, typed.

A launch fills it in (the run folder on the target, the agent's identity recorded from its
launcher's answer, the container, the Spark application, ...), the reconciler moves its
cursors on (metrics offset), and the history stores it as a JSON object (the ``target_state``
column and ``record.json``). Stored runs written by older versions load unchanged: every key
is the JSON key of the same name.

It is read back from places a run can write (``record.json`` sits in the run folder), so
``from_json`` validates every known key: a value of the wrong type is dropped and named in
``malformed``, which fails that one run with the reason (``reconcile``, ``stale``, ``repair``)
and never the listing. Unknown keys (a newer aml_magic's) are kept verbatim in ``extra`` and
written back as they were; nothing reads them.
"""
from __future__ import annotations

import math
import posixpath
from aml_magic.domain.plain_data import field, field_names, plain_data

from aml_magic.errors import TargetError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

JsonObject = dict[str, object]


@plain_data
class TargetState:
    """The run's facts on its target; None means "not recorded". Grouped by who writes them."""

    # every agent launch (process, container, spark-submit)
    run_dir: str | None = None              # the run folder, on the target's machine
    agent_pid: int | None = None            # the agent's identity from its launcher's answer,
    agent_start: int | None = None          # recorded before any run code ran: the only
    agent_sid: int | None = None            # process ids the host ever signals
    heartbeat_seconds: float | None = None
    launched_at: float | None = None
    python: str | None = None               # "path (Python 3.x)" as the agent reported it
    outputs_dir: str | None = None          # when not <run_dir>/work/outputs (docker with
    logs_dir: str | None = None             # sharedVolumes: the project's own folders)
    # the reconciler's cursors and what it refused to read
    metrics_offset: int | None = None
    metrics_skipping: bool | None = None
    metrics_rejected: int | None = None
    metrics_refused: str | None = None
    log_refused: str | None = None
    # remote placement: how the snapshot got there ("copy", "spare", ...)
    sync: str | None = None
    copied_files: int | None = None
    # container launch (docker, remotedocker)
    container_id: str | None = None
    image: str | None = None
    container_status: str | None = None
    # spark-submit launch (cluster); app id and UI are read from the driver's log
    spark_master: str | None = None
    spark_dependencies: str | None = None
    spark_app_id: str | None = None
    spark_ui: str | None = None
    spark_unresolved: list[str] | None = None
    spark_missing_python: str | None = None
    # sbatch launch (slurm): the job ("123" or "123_4" for a sweep's array task), where it ran
    slurm_job_id: str | None = None
    slurm_partition: str | None = None
    slurm_node: str | None = None
    slurm_state: str | None = None          # Slurm's last state seen (PENDING, RUNNING, ...)
    # runs without an agent: a sweep's parent (its driver), a notebook tracked by its kernel
    driver_pid: int | None = None
    notebook: str | None = None
    kernel_pid: int | None = None
    # unknown keys, kept as read; never read
    extra: JsonObject = field(default_factory=dict)
    # why stored values were refused (not stored itself): the run fails with it
    malformed: str | None = field(default=None, compare=False)

    @classmethod
    def from_json(cls, data: object) -> TargetState:
        """The state from its stored JSON object, every known value checked (see the module)."""
        if not isinstance(data, dict):
            return cls(malformed=f"target state is {type(data).__name__}, not an object")
        state = cls.__new__(cls)                # listings load 10,000s: fill the fields directly
        values = state.__dict__
        values.update(_UNSET)
        extra: JsonObject = {}
        problems: list[str] = []
        for key, value in data.items():
            plain = _PLAIN.get(key)             # most values: one type test, no call
            if plain is not None and type(value) is plain:
                values[key] = value
                continue
            check = _CHECKS.get(key)
            if check is None:
                extra[str(key)] = value
            elif value is None:
                continue
            elif check(value):
                values[key] = list(value) if type(value) is list else value
            else:
                problems.append(f"{key}: {_shown(value)} is not {_EXPECTED[key]}")
        state.extra = extra
        if problems:
            state.malformed = "target state refused: " + "; ".join(problems[:5])
        return state

    def to_json(self) -> JsonObject:
        """The stored JSON object: recorded values only (as older versions wrote it), then
        the unknown keys as read."""
        out: JsonObject = {}
        for name in _NAMES:
            value = getattr(self, name)
            if value is not None:
                out[name] = list(value) if isinstance(value, list) else value
        for key, value in self.extra.items():
            out.setdefault(key, value)
        return out

    def folder(self) -> str:
        """``run_dir``, for the stages that need it; a run never launched has none."""
        if self.run_dir is None:
            raise TargetError("the run has no folder on its target: it was never launched")
        return self.run_dir


def foreign_paths(state: TargetState, run_id: str, *, local_folder: str | None,
                  remote_base: str | None = None,
                  project_folders: tuple[str, ...] = ()) -> str | None:
    """Why the folders ``state`` names are not the run's own, or None. A run can rewrite its
    ``record.json``, and ``aml history repair`` reads it back: the run folder must be the one
    its placement gives the run (``local_folder`` for this machine; else
    ``<remote_base>/runs/<run_id>``, or any ``.../runs/<run_id>`` when the base is unknown or
    relative to a home folder), and ``outputs_dir``/``logs_dir`` must lie inside it or be one of
    ``project_folders`` (docker with ``sharedVolumes``: the project's own ``outputs``/``logs``)."""
    run_dir = state.run_dir
    if run_dir is None:
        return None
    clean = posixpath.normpath(run_dir)
    if local_folder is not None:
        expected: str | None = posixpath.normpath(local_folder)
    elif remote_base and remote_base.startswith("/"):
        expected = posixpath.normpath(f"{remote_base}/runs/{run_id}")
    else:
        expected = None
    if (expected is not None and clean != expected) or not clean.startswith("/") \
            or not clean.endswith(f"/runs/{run_id}") or run_dir != clean and run_dir != clean + "/":
        return (f"target state refused: run_dir {_shown(run_dir)} is not the run's own folder "
                f"({expected or '.../runs/' + run_id})")
    for key in ("outputs_dir", "logs_dir"):
        value = getattr(state, key)
        if value is None or value in project_folders:
            continue
        if posixpath.normpath(value) != value.rstrip("/") or \
                not value.startswith(clean + "/"):
            return f"target state refused: {key} {_shown(value)} is outside the run's folder"
    return None


# -- validation: one check per key ----------------------------------------------------------
def _text(value: object) -> bool:
    return isinstance(value, str)


def _path(value: object) -> bool:
    return isinstance(value, str) and bool(value) and "\0" not in value


def _count(value: object) -> bool:
    return type(value) is int and value >= 0


def _seconds(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value) and value >= 0


def _flag(value: object) -> bool:
    return type(value) is bool


def _texts(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


_KINDS: dict[Callable[[object], bool], str] = {
    _text: "text", _path: "a path", _count: "a non-negative integer",
    _seconds: "a non-negative number", _flag: "true or false", _texts: "a list of texts"}
_CHECKS: dict[str, Callable[[object], bool]] = {
    "run_dir": _path, "agent_pid": _count, "agent_start": _count, "agent_sid": _count,
    "heartbeat_seconds": _seconds, "launched_at": _seconds, "python": _text,
    "outputs_dir": _path, "logs_dir": _path,
    "metrics_offset": _count, "metrics_skipping": _flag, "metrics_rejected": _count,
    "metrics_refused": _text, "log_refused": _text,
    "sync": _text, "copied_files": _count,
    "container_id": _text, "image": _text, "container_status": _text,
    "spark_master": _text, "spark_dependencies": _text, "spark_app_id": _text,
    "spark_ui": _text, "spark_unresolved": _texts, "spark_missing_python": _text,
    "slurm_job_id": _text, "slurm_partition": _text, "slurm_node": _text, "slurm_state": _text,
    "driver_pid": _count, "notebook": _text, "kernel_pid": _count,
}
_EXPECTED = {key: _KINDS[check] for key, check in _CHECKS.items()}
_PLAIN: dict[str, type] = {key: {_text: str, _flag: bool}[check]
                           for key, check in _CHECKS.items() if check in (_text, _flag)}
_NAMES = tuple(name for name in field_names(TargetState) if name not in ("extra", "malformed"))
_UNSET: dict[str, None] = dict.fromkeys((*_NAMES, "malformed"))
if set(_NAMES) != set(_CHECKS):
    raise RuntimeError("every TargetState field needs its check in _CHECKS")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


__all__ = ["JsonObject", "TargetState", "foreign_paths"]
