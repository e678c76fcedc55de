"""``record.json`` in each run folder: the run's history record, so the history can be rebuilt
from the run folders (``aml history repair``) when ``history.db`` is lost or damaged.

Written when a run is created (as a new file, ``O_EXCL``: nothing can be there yet), when it
starts running (where it lives) and when it ends; otherwise under a fresh name renamed into
place, never through a link the run planted. The run can
write its own folder, so reading it back trusts nothing: the run id comes from the folder's
name, every field is type-checked, and a bad file means "no record"."""
from __future__ import annotations

import json
import os
from aml_magic.domain.plain_data import field_names
from pathlib import Path

from aml_magic.errors import AmlError
from aml_magic.domain.history.records import RunRecord, parse_status
from aml_magic.domain.envvars import environment_variables
from aml_magic.domain.target_state import TargetState
from aml_magic.domain.nofollow import read_nofollow, write_marker

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

RECORD_FILE = "record.json"
RECORD_LIMIT = 4 << 20
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "project": (str,), "run_configuration": (str, type(None)), "target": (str,),
    "target_type": (str,), "status": (str,), "created_at": (int, float),
    "started_at": (int, float, type(None)), "ended_at": (int, float, type(None)),
    "exit_code": (int, type(None)), "reason": (str, type(None)), "command": (list,),
    "script": (str, type(None)), "config_snapshot": (dict,), "environment": (dict,),
    "snapshot_digest": (str, type(None)), "environment_hash": (str, type(None)),
    "git_commit": (str, type(None)), "git_dirty": (bool, type(None)), "target_state": (dict,),
    "kind": (str,), "parent_run_id": (str, type(None)), "provenance": (dict,),
}


def write_record(run_folder: Path, record: RunRecord, *, new: bool = False) -> None:
    """Mirror ``record`` into its run folder; failing to (the folder is gone, the disk is
    full) never fails the history write it follows: repair then rebuilds less. ``new``: the
    folder was just created by this process (one file creation instead of two and a rename)."""
    data = {name: getattr(record, name) for name in field_names(RunRecord)}  # JSON copies it
    data["status"] = record.status.value
    data["target_state"] = record.target_state.to_json()
    try:
        raw = json.dumps(data, default=str, separators=(",", ":")).encode()
        if new and write_new(run_folder, RECORD_FILE, raw):
            return
        if run_folder.is_dir():
            write_marker(run_folder, RECORD_FILE, raw)
    except (OSError, AmlError, TypeError, ValueError):
        pass


def write_new(folder: Path, name: str, data: bytes) -> bool:
    """Create ``folder/name`` holding ``data`` when nothing is there (``O_EXCL`` never follows
    nor replaces anything); False when something is, for the caller's replacing write."""
    try:
        fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                     | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return True


def read_record(run_folder: Path) -> RunRecord | None:
    """The record mirrored in ``run_folder``, or None when absent or not trustworthy."""
    try:
        raw = read_nofollow(run_folder / RECORD_FILE, 0, RECORD_LIMIT + 1)
        if not raw or len(raw) > RECORD_LIMIT:
            return None
        data = json.loads(raw.decode("utf-8"))
    except (OSError, AmlError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    values: dict[str, Any] = {"run_id": run_folder.name}
    known = set(field_names(RunRecord))
    for name, types in _FIELD_TYPES.items():
        if name not in data or name not in known:
            continue
        value = data[name]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            return None
        values[name] = value
    if "target_state" in values:        # every key checked; a refused value fails the run
        values["target_state"] = TargetState.from_json(values["target_state"])
    if "project" not in values:
        return None
    try:
        values["environment"] = environment_variables(values.get("environment"))
        values["status"] = parse_status(values.get("status", "Failed"))
        return RunRecord(**values)
    except (AmlError, TypeError, ValueError):
        return None
