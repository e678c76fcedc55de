"""``RunStore``: the run history of one project, in ``<project>/.aml/history.db``.

Every statement below is a constant with ``?`` placeholders; the only strings assembled at
import time are column lists taken from ``schema.RUN_COLUMNS``, never from callers (and
``IN (?, ?, ...)`` lists of placeholders).
"""
from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from aml_magic.errors import AmlError, RunNotFound
from aml_magic.domain.history import schema
from aml_magic.domain.history.database import Database
from aml_magic.domain.history.mirror import write_record
from aml_magic.domain.history.private import private_dir, private_files
from aml_magic.domain.history.records import (
    Artifact, Metric, RunRecord, Transition, check_run_id, new_run_id, parse_status
)
from aml_magic.domain.history.stale import mark_submitter
from aml_magic.domain.history.status import RunStatus
from aml_magic.domain.target_state import TargetState
from aml_magic.domain.nofollow import append_nofollow

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any, TypeVar
    T = TypeVar("T")

_COLUMNS = ", ".join(schema.RUN_COLUMNS)
_ORDER = " ORDER BY created_at DESC, run_id DESC LIMIT ? OFFSET ?"
_SELECT = "SELECT " + _COLUMNS + " FROM runs"
#: Run ids per ``IN (...)`` query: far below SQLite's bound-parameter limit on every build.
_IN_CHUNK = 500
# Statuses whose change rewrites record.json (the mirror a lost database is rebuilt from):
# Running carries where the run lives (target_state), the ends carry the outcome. Preparing
# and Finalizing last milliseconds; a rebuild that sees Queued or Running for them reconciles
# the run all the same. One file replacement less per passing status, on every run.
_MIRRORED = frozenset({RunStatus.RUNNING, RunStatus.COMPLETED, RunStatus.FAILED,
                       RunStatus.CANCELED, RunStatus.QUEUED})

_INSERT_RUN = ("INSERT INTO runs (" + _COLUMNS + ") VALUES ("
               + ", ".join("?" for _ in schema.RUN_COLUMNS) + ")")
_LIST = {
    (False, False): _SELECT + _ORDER,
    (True, False): _SELECT + " WHERE status = ?" + _ORDER,
    (False, True): _SELECT + " WHERE target = ?" + _ORDER,
    (True, True): _SELECT + " WHERE target = ? AND status = ?" + _ORDER,
}
_ACTIVE_STATUSES = tuple(s.value for s in RunStatus if not s.is_terminal())
_ACTIVE = (_SELECT + " WHERE status IN (" + ", ".join("?" for _ in _ACTIVE_STATUSES) + ")"
           + " ORDER BY created_at, run_id")
_UPDATE = {column: "UPDATE runs SET " + column + " = ? WHERE run_id = ?"
           for column in schema.UPDATABLE_COLUMNS}
_NOT_FOUND_HINT = "; `aml run list` shows the runs of this project"


def _same_folder(path: str, folder: Path) -> bool:
    """Whether ``path`` (as the target recorded it) is ``folder`` on this machine, however
    spelled (a symlinked project path included)."""
    import os
    try:
        return path == str(folder) or os.path.samefile(path, folder)
    except OSError:
        return False


def _not_found(run_id: str) -> RunNotFound:
    return RunNotFound(f"run {run_id!r} is not in this project's run history" + _NOT_FOUND_HINT)


def _require_run(conn: sqlite3.Connection, run_id: str) -> None:
    if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone() is None:
        raise _not_found(run_id)


class RunStore:
    """Runs, their status transitions, metrics and artifact index. Safe to use from several
    threads (a connection per thread) and several processes (SQLite WAL + retried writes)."""

    def __init__(self, project_root: Path | str, *, retry_seconds: float = 60.0,
                 rebuilding: bool = False) -> None:
        """``rebuilding``: a new history next to existing run folders is intended (repair)."""
        self.project_root = Path(project_root)
        self.aml_dir = self.project_root / ".aml"
        self.runs_dir = self.aml_dir / "runs"
        private_dir(self.aml_dir)
        self.db_path = self.aml_dir / "history.db"
        checked = schema.preflight(self.db_path, None if rebuilding else self.runs_dir,
                                   keep_open=True)
        try:
            private_files(self.db_path)
            self._db = Database(self.db_path, retry_seconds=retry_seconds)
            self._db.write(lambda conn: schema.migrate(conn, db_path=str(self.db_path)))
        finally:
            if checked is not None:     # open until ours is: SQLite indexed its log once
                checked.close()

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return self._db.read(schema.schema_version)

    new_run_id = staticmethod(new_run_id)

    def read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run WORK in one read transaction (the queries of sibling modules: ``table.py``)."""
        return self._db.read(work)

    def run_dir(self, run_id: str, *, create: bool = False) -> Path:
        """``<project>/.aml/runs/<run_id>/``; the id is checked so it cannot leave that folder."""
        path = self.runs_dir / check_run_id(run_id)
        if create:
            private_dir(self.runs_dir)
            path.mkdir(mode=0o700, exist_ok=True)
        return path

    # -- runs --------------------------------------------------------------------------------

    def create_run(self, record: RunRecord, *, submitter: bool = True,
                   then: RunStatus | None = None) -> None:
        """Insert a new run and record its first status as a transition. ``submitter``: this
        process will launch it (noted in the run folder, so a later look can tell whether it
        died first; see ``stale.py``). ``then``: a second status it moves to at once (a
        submit's Queued then Preparing), in the same transaction and the same record.json."""
        check_run_id(record.run_id)
        row = schema.record_to_row(record)
        statuses = [record.status] + ([then] if then is not None and then is not record.status
                                      else [])

        def work(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (record.run_id,)).fetchone():
                raise AmlError(f"run {record.run_id!r} already exists in the run history; "
                               "create the run with a new id (RunStore.new_run_id)")
            conn.execute(_INSERT_RUN, row)
            for status in statuses:
                conn.execute("INSERT INTO transitions (run_id, status, time, reason) "
                             "VALUES (?, ?, ?, ?)",
                             (record.run_id, status.value, record.created_at, record.reason))
            if len(statuses) > 1:
                conn.execute("UPDATE runs SET status = ? WHERE run_id = ?",
                             (statuses[-1].value, record.run_id))
        self._db.write(work)
        record.status = statuses[-1]
        folder = self.run_dir(record.run_id, create=True)
        write_record(folder, record, new=True)
        if submitter and not record.status.is_terminal():
            mark_submitter(folder)

    def insert_many(self, records: Iterable[RunRecord]) -> int:
        """Insert many runs in one transaction, without transitions (imports, benchmarks)."""
        rows = [schema.record_to_row(record) for record in records
                if check_run_id(record.run_id)]
        self._db.write(lambda conn: conn.executemany(_INSERT_RUN, rows))
        return len(rows)

    def insert_metrics(self, rows: Iterable[tuple[str, Metric]]) -> int:
        """Many runs' metrics, steps and times as given, in one transaction (imports, seeds)."""
        values = [(run_id, m.name, schema.to_json(m.value), m.step or 0, m.time or 0.0)
                  for run_id, m in rows]
        self._db.write(lambda conn: conn.executemany(
            "INSERT OR REPLACE INTO metrics (run_id, name, value, step, time)"
            " VALUES (?, ?, ?, ?, ?)", values))
        return len(values)

    def get(self, run_id: str) -> RunRecord:
        row = self._db.read(
            lambda conn: conn.execute(_SELECT + " WHERE run_id = ?", (run_id,)).fetchone())
        if row is None:
            raise _not_found(run_id)
        return schema.row_to_record(row)

    def list_runs(self, *, status: RunStatus | str | None = None, target: str | None = None,
                  limit: int = 50, offset: int = 0) -> list[RunRecord]:
        """Newest first, optionally only one status and/or one compute target."""
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset must be >= 0")
        params: list[Any] = []
        if target is not None:
            params.append(target)
        if status is not None:
            params.append(parse_status(status).value)
        params += [limit, offset]
        sql = _LIST[(status is not None, target is not None)]
        rows = self._db.read(lambda conn: conn.execute(sql, params).fetchall())
        return schema.rows_to_records(rows)

    def count_runs(self, *, status: RunStatus | str | None = None,
                   target: str | None = None) -> int:
        value = None if status is None else parse_status(status).value
        sql = ("SELECT COUNT(*) FROM runs WHERE (? IS NULL OR target = ?)"
               " AND (? IS NULL OR status = ?)")
        params = (target, target, value, value)
        return int(self._db.read(lambda conn: conn.execute(sql, params).fetchone()[0]))

    def children(self, parent_run_id: str) -> list[RunRecord]:
        """The child runs of a parent (a sweep's grid points), oldest first."""
        sql = _SELECT + " WHERE parent_run_id = ? ORDER BY created_at, run_id"
        rows = self._db.read(lambda conn: conn.execute(sql, (parent_run_id,)).fetchall())
        return schema.rows_to_records(rows)

    def active_runs(self) -> list[RunRecord]:
        """Runs not yet in a terminal state, oldest first: the ones to reconcile."""
        rows = self._db.read(lambda conn: conn.execute(_ACTIVE, _ACTIVE_STATUSES).fetchall())
        return [schema.row_to_record(row) for row in rows]

    def find_runs(self, prefix: str, *, limit: int = 20) -> list[RunRecord]:
        """Runs whose id starts with ``prefix`` (newest first), via the primary key index."""
        upper = prefix + "\U0010ffff"
        sql = (_SELECT + " WHERE run_id >= ? AND run_id < ?"
               " ORDER BY created_at DESC, run_id DESC LIMIT ?")
        rows = self._db.read(lambda conn: conn.execute(sql, (prefix, upper, limit)).fetchall())
        return [schema.row_to_record(row) for row in rows]

    def resolve_run_id(self, id_or_prefix: str) -> str:
        """The full run id for an exact id, a unique prefix, or a unique ending such as the
        last digits and hex of the id (what users copy from `aml run list`)."""
        text = id_or_prefix.strip()
        if not text:
            raise RunNotFound("no run id given" + _NOT_FOUND_HINT)
        matches = [r.run_id for r in self.find_runs(text, limit=11)]
        if text in matches:
            return text
        if not matches:
            pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            sql = "SELECT run_id FROM runs WHERE run_id LIKE ? ESCAPE '\\' ORDER BY run_id LIMIT 11"
            matches = [row[0] for row in
                       self._db.read(lambda conn: conn.execute(sql, (pattern,)).fetchall())]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise _not_found(text)
        shown = ", ".join(matches[:10]) + (", ..." if len(matches) > 10 else "")
        raise AmlError(f"run id {text!r} matches several runs ({shown}); give more of the id")

    def set_status(self, run_id: str, status: RunStatus | str, *, reason: str | None = None,
                   at: float | None = None, fields: dict[str, Any] | None = None) -> bool:
        """Move a run to ``status`` and record the transition. Returns False, changing nothing,
        when the run already has that status or is terminal (a late poll cannot revive it).
        ``fields``: columns to set as ``update`` does, in the same transaction, whether the
        status changed or not."""
        new = parse_status(status)
        when = time.time() if at is None else at
        values = self._update_values(fields or {})

        def work(conn: sqlite3.Connection) -> bool:
            changed = apply_status(conn, run_id, values, new, when, reason)
            if changed is None:
                raise _not_found(run_id)
            return changed
        changed = self._db.write(work)
        if changed and new in _MIRRORED:
            write_record(self.run_dir(run_id), self.get(run_id))
        return changed

    @staticmethod
    def _update_values(fields: dict[str, Any]) -> list[tuple[str, Any]]:
        unknown = sorted(set(fields) - schema.UPDATABLE_COLUMNS)
        if unknown:
            raise ValueError(f"RunStore.update cannot set {', '.join(unknown)}; allowed: "
                             f"{', '.join(sorted(schema.UPDATABLE_COLUMNS))}")
        return [(_UPDATE[column], schema.encode_value(column, value))
                for column, value in fields.items()]

    def update(self, run_id: str, /, **fields: Any) -> None:
        """Change run fields other than id, project, created_at and status (see set_status)."""
        values = self._update_values(fields)

        def work(conn: sqlite3.Connection) -> None:
            _require_run(conn, run_id)
            for sql, value in values:
                conn.execute(sql, (value, run_id))
        self._db.write(work)

    def delete_run(self, run_id: str, *, remove_files: bool = True) -> bool:
        """Forget a run (its transitions, metrics, artifact index too) and, by default, its
        run folder. Returns False when there was no such run."""
        folder = self.run_dir(run_id)
        deleted = self._db.write(
            lambda conn: conn.execute("DELETE FROM runs WHERE run_id = ?", (run_id,)).rowcount)
        if remove_files and folder.exists():
            import shutil
            shutil.rmtree(folder, ignore_errors=True)
        return bool(deleted)

    def transitions(self, run_id: str) -> list[Transition]:
        rows = self._db.read(lambda conn: conn.execute(
            "SELECT status, time, reason FROM transitions WHERE run_id = ? ORDER BY id",
            (run_id,)).fetchall())
        return [Transition(RunStatus(status), when, reason) for status, when, reason in rows]

    # -- metrics -----------------------------------------------------------------------------

    def add_metrics(self, run_id: str, metrics: Iterable[Metric], *,
                    target_state: TargetState | None = None) -> list[Metric]:
        """Store a batch in one transaction and return it as stored. A metric without a step
        gets the next step of its name; one with a step replaces that step's value, so
        re-reading a metrics file from an earlier offset does not double points. Pass the
        new ``target_state`` (holding the file offset) to commit it with the metrics."""
        batch = list(metrics)
        now = time.time()
        state = None if target_state is None else schema.encode_value("target_state", target_state)

        def work(conn: sqlite3.Connection) -> list[Metric]:
            _require_run(conn, run_id)
            if state is not None:
                conn.execute(_UPDATE["target_state"], (state, run_id))
            next_step: dict[str, int] = {}
            stored: list[Metric] = []
            for metric in batch:
                if metric.name not in next_step:
                    last = conn.execute("SELECT MAX(step) FROM metrics WHERE run_id = ? AND name = ?",
                                        (run_id, metric.name)).fetchone()[0]
                    next_step[metric.name] = 0 if last is None else last + 1
                step = next_step[metric.name] if metric.step is None else int(metric.step)
                next_step[metric.name] = max(next_step[metric.name], step + 1)
                when = now if metric.time is None else float(metric.time)
                stored.append(Metric(metric.name, metric.value, step, when))
            conn.executemany(
                "INSERT OR REPLACE INTO metrics (run_id, name, value, step, time)"
                " VALUES (?, ?, ?, ?, ?)",
                [(run_id, m.name, schema.to_json(m.value), m.step, m.time) for m in stored])
            return stored
        stored = self._db.write(work)
        self._mirror_remote_metrics(run_id, stored, target_state)
        return stored

    def _mirror_remote_metrics(self, run_id: str, stored: list[Metric],
                               target_state: TargetState | None) -> None:
        """A run whose agent writes elsewhere (a remote target) has no ``metrics.jsonl`` in its
        local run folder; keep one there (as stored, steps filled in) so ``aml history
        repair`` can rebuild its metrics. Best effort: history is the record."""
        run_dir = target_state.run_dir if target_state is not None else None
        folder = self.run_dir(run_id)
        if not stored or not run_dir or not folder.is_dir() or _same_folder(run_dir, folder):
            return                 # the agent writes this very folder (local, docker)
        lines = "".join(schema.to_json({"name": m.name, "value": m.value, "step": m.step,
                                        "time": m.time}) + "\n" for m in stored)
        try:
            append_nofollow(folder, "metrics.jsonl", lines.encode("utf-8"))
        except (OSError, AmlError, ValueError):
            pass

    def metrics(self, run_id: str, name: str | None = None) -> list[Metric]:
        """All metrics of a run (or of one name), by name then step."""
        sql = ("SELECT name, value, step, time FROM metrics WHERE run_id = ?"
               " AND (? IS NULL OR name = ?) ORDER BY name, step")
        rows = self._db.read(lambda conn: conn.execute(sql, (run_id, name, name)).fetchall())
        return [Metric(n, json.loads(value), step, when) for n, value, step, when in rows]

    def last_metric_values(self, run_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """For each run, the last value (highest step) of each of its metric series, names in
        order: read from ``metric_last`` (kept by triggers, one row per series) in chunks of
        runs, the values decoded as one JSON array (``aml history list`` over 10,000s)."""
        ids = list(run_ids)

        def read(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
            rows: list[tuple[str, str, str]] = []
            for start in range(0, len(ids), _IN_CHUNK):
                chunk = ids[start:start + _IN_CHUNK]
                sql = ("SELECT run_id, name, value FROM metric_last WHERE run_id IN ("
                       + ", ".join("?" for _ in chunk) + ") ORDER BY run_id, name")
                rows += conn.execute(sql, chunk).fetchall()
            return rows

        rows = self._db.read(read)
        values = json.loads("[" + ",".join(value for _, _, value in rows) + "]")
        found: dict[str, dict[str, Any]] = {}
        for (run_id, name, _), value in zip(rows, values):
            found.setdefault(run_id, {})[name] = value
        return found

    # -- artifacts ---------------------------------------------------------------------------

    def set_artifacts(self, run_id: str, artifacts: Iterable[Artifact]) -> None:
        """Replace the run's artifact index (the agent's outputs.json is the whole list)."""
        rows = [(run_id, a.path, int(a.size), a.sha256) for a in artifacts]

        def work(conn: sqlite3.Connection) -> None:
            _require_run(conn, run_id)
            conn.execute("DELETE FROM artifacts WHERE run_id = ?", (run_id,))
            conn.executemany("INSERT INTO artifacts (run_id, path, size, sha256) VALUES (?, ?, ?, ?)",
                             rows)
        self._db.write(work)

    def artifacts(self, run_id: str) -> list[Artifact]:
        rows = self._db.read(lambda conn: conn.execute(
            "SELECT path, size, sha256 FROM artifacts WHERE run_id = ? ORDER BY path",
            (run_id,)).fetchall())
        return [Artifact(path, size, sha256) for path, size, sha256 in rows]


def apply_status(conn: sqlite3.Connection, run_id: str, values: list[tuple[str, Any]],
                 new: RunStatus, when: float, reason: str | None) -> bool | None:
    """Inside a write: set ``values`` (``_update_values``) on the run, then move it to ``new``
    with its transition unless it already ended or is there. None: no such run. The one rule
    for a status change, for one run (``RunStore.set_status``) and many (``batch``)."""
    for sql, value in values:
        conn.execute(sql, (value, run_id))
    row = conn.execute("SELECT status, started_at, ended_at FROM runs WHERE run_id = ?",
                       (run_id,)).fetchone()
    if row is None:
        return None
    current, started_at, ended_at = RunStatus(row[0]), row[1], row[2]
    if current.is_terminal() or current is new:
        return False
    if new is RunStatus.RUNNING and started_at is None:
        started_at = when
    if new.is_terminal() and ended_at is None:
        ended_at = when
    conn.execute("UPDATE runs SET status = ?, started_at = ?, ended_at = ?,"
                 " reason = COALESCE(?, reason) WHERE run_id = ?",
                 (new.value, started_at, ended_at, reason, run_id))
    conn.execute("INSERT INTO transitions (run_id, status, time, reason) VALUES (?, ?, ?, ?)",
                 (run_id, new.value, when, reason))
    return True
