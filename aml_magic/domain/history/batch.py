"""Many runs in ONE history transaction: a sweep records its parent and N children, fills and
starts them, and notes them launched as one write each instead of N (about 10 ms per run each
under load; a 100-point sweep spent a second there). The record.json mirrors then follow, one
file each (``mirror.py``), as for ``RunStore.create_run`` and ``RunStore.set_status``.

Every statement is a constant with ``?`` placeholders (``IN (...)`` lists of placeholders
built from a count, never from values).
"""
from __future__ import annotations

import sqlite3
import time

from aml_magic.domain.history import schema
from aml_magic.domain.history.mirror import RECORD_FILE, write_record
from aml_magic.domain.history.private import private_dir
from aml_magic.domain.history.records import check_run_id
from aml_magic.domain.history.stale import mark_submitter
from aml_magic.domain.history.status import RunStatus
from aml_magic.domain.history.store import apply_status
from aml_magic.errors import AmlError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Collection, Sequence

    from aml_magic.domain.history.records import RunRecord
    from aml_magic.domain.history.store import RunStore

_INSERT_RUN = ("INSERT INTO runs (" + ", ".join(schema.RUN_COLUMNS) + ") VALUES ("
               + ", ".join("?" for _ in schema.RUN_COLUMNS) + ")")
_INSERT_TRANSITION = "INSERT INTO transitions (run_id, status, time, reason) VALUES (?, ?, ?, ?)"
_SELECT = "SELECT " + ", ".join(schema.RUN_COLUMNS) + " FROM runs"
_UPDATE = {column: "UPDATE runs SET " + column + " = ? WHERE run_id = ?"
           for column in schema.UPDATABLE_COLUMNS}
_CHUNK = 500       # ids per IN (...): far below SQLite's bound-parameter limit
# as RunStore.set_status: the statuses whose change rewrites record.json
_MIRRORED = frozenset({RunStatus.RUNNING, RunStatus.COMPLETED, RunStatus.FAILED,
                       RunStatus.CANCELED, RunStatus.QUEUED})


def _placeholders(count: int) -> str:
    return ", ".join("?" for _ in range(count))


def create_runs(store: RunStore, records: Sequence[RunRecord], *,
                submitter: bool = False, deferred: Collection[str] = ()) -> None:
    """``RunStore.create_run`` for many new runs: rows and first transitions in one
    transaction (none is written if any id exists), then each run folder with its
    record.json (one new file). ``submitter``: as for ``create_run``. ``deferred``: runs
    whose folder and record.json ``mirror_records`` makes later (a job array's tasks, once
    the array is in the scheduler: off the submit's path)."""
    ids = [check_run_id(record.run_id) for record in records]
    if len(set(ids)) != len(ids):
        raise AmlError("the runs to record repeat an id; make each with RunStore.new_run_id")
    rows = [schema.record_to_row(record) for record in records]
    transitions = [(r.run_id, r.status.value, r.created_at, r.reason) for r in records]

    def work(conn: sqlite3.Connection) -> None:
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start:start + _CHUNK]
            taken = conn.execute("SELECT run_id FROM runs WHERE run_id IN ("
                                 + _placeholders(len(chunk)) + ")", chunk).fetchone()
            if taken:
                raise AmlError(f"run {taken[0]!r} already exists in the run history; create "
                               "the run with a new id (RunStore.new_run_id)")
        conn.executemany(_INSERT_RUN, rows)
        conn.executemany(_INSERT_TRANSITION, transitions)
    store._db.write(work)
    private_dir(store.runs_dir)
    for record in records:
        if record.run_id in deferred:
            continue
        folder = store.runs_dir / record.run_id
        folder.mkdir(mode=0o700, exist_ok=True)
        write_record(folder, record, new=True)
        if submitter and not record.status.is_terminal():
            mark_submitter(folder)


def mirror_records(store: RunStore, run_ids: Sequence[str]) -> None:
    """Each run's folder (made if absent) with its record.json as the history has it now,
    unless one is there already (a status change since wrote a newer one)."""
    private_dir(store.runs_dir)
    for record in get_many(store, run_ids):
        folder = store.runs_dir / record.run_id
        folder.mkdir(mode=0o700, exist_ok=True)
        if not (folder / RECORD_FILE).exists():
            write_record(folder, record, new=True)


def set_status_many(store: RunStore, changes: Sequence[tuple[str, dict[str, Any]]],
                    status: RunStatus, *, reason: str | None = None,
                    at: float | None = None, mirror: bool = True) -> list[str]:
    """``RunStore.set_status(run_id, status, fields=...)`` for each ``(run_id, fields)`` of
    ``changes``, in one transaction; the ids whose status changed (a run already ended, or
    already at ``status``, keeps it, its fields set all the same). ``mirror=False``: the
    caller has ``mirror_records`` write the record.json files later."""
    when = time.time() if at is None else at
    planned = [(run_id, store._update_values(fields)) for run_id, fields in changes]

    def work(conn: sqlite3.Connection) -> list[str]:
        changed: list[str] = []
        for run_id, values in planned:
            moved = apply_status(conn, run_id, values, status, when, reason)
            if moved is None:
                raise AmlError(f"run {run_id!r} is not in this project's run history")
            if moved:
                changed.append(run_id)
        return changed
    changed = store._db.write(work)
    if changed and status in _MIRRORED and mirror:
        for record in get_many(store, changed):
            write_record(store.run_dir(record.run_id), record)
    return changed


def get_many(store: RunStore, run_ids: Sequence[str]) -> list[RunRecord]:
    """The records of ``run_ids`` (those that exist), in one read."""
    ids = list(run_ids)

    def read(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start:start + _CHUNK]
            rows += conn.execute(_SELECT + " WHERE run_id IN (" + _placeholders(len(chunk))
                                 + ")", chunk).fetchall()
        return rows
    found = {record.run_id: record for record in schema.rows_to_records(store._db.read(read))}
    return [found[run_id] for run_id in ids if run_id in found]


__all__ = ["create_runs", "get_many", "mirror_records", "set_status_many"]
