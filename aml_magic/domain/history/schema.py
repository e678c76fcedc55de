"""The history database's schema, its migrations, and the mapping between rows and records.

The schema version lives in ``PRAGMA user_version``; ``MIGRATIONS[i]`` takes the database from
version ``i`` to ``i + 1``. Append new migrations, never edit old ones: databases in users'
projects were created by them.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from aml_magic.errors import AmlError, HistoryDamaged
from aml_magic.domain.history.records import RunRecord
from aml_magic.domain.history.table_schema import runs_table_migration
from aml_magic.domain.target_state import TargetState

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MIGRATIONS: list[tuple[str, ...]] = [
    (  # 1: runs, transitions, metrics, artifacts
        """CREATE TABLE runs (
            run_id            TEXT PRIMARY KEY,
            project           TEXT NOT NULL,
            run_configuration TEXT,
            target            TEXT NOT NULL,
            target_type       TEXT NOT NULL,
            status            TEXT NOT NULL,
            created_at        REAL NOT NULL,
            started_at        REAL,
            ended_at          REAL,
            exit_code         INTEGER,
            reason            TEXT,
            command           TEXT NOT NULL DEFAULT '[]',
            script            TEXT,
            config_snapshot   TEXT NOT NULL DEFAULT '{}',
            environment       TEXT NOT NULL DEFAULT '{}',
            snapshot_digest   TEXT,
            environment_hash  TEXT,
            git_commit        TEXT,
            git_dirty         INTEGER,
            target_state      TEXT NOT NULL DEFAULT '{}'
        )""",
        # Listing newest first, unfiltered or filtered, walks one of these backwards and stops
        # after `limit` rows, so it costs the same at 100 or 100,000 runs.
        "CREATE INDEX runs_by_created ON runs (created_at, run_id)",
        "CREATE INDEX runs_by_status ON runs (status, created_at, run_id)",
        "CREATE INDEX runs_by_target ON runs (target, created_at, run_id)",
        "CREATE INDEX runs_by_target_status ON runs (target, status, created_at, run_id)",
        """CREATE TABLE transitions (
            id      INTEGER PRIMARY KEY,
            run_id  TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            status  TEXT NOT NULL,
            time    REAL NOT NULL,
            reason  TEXT
        )""",
        "CREATE INDEX transitions_by_run ON transitions (run_id, id)",
        """CREATE TABLE metrics (
            id      INTEGER PRIMARY KEY,
            run_id  TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            name    TEXT NOT NULL,
            value   TEXT NOT NULL,
            step    INTEGER NOT NULL,
            time    REAL NOT NULL,
            UNIQUE (run_id, name, step)
        )""",
        """CREATE TABLE artifacts (
            run_id  TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            path    TEXT NOT NULL,
            size    INTEGER NOT NULL,
            sha256  TEXT NOT NULL,
            PRIMARY KEY (run_id, path)
        )""",
    ),
    (  # 2: the last value of each metric series, kept by triggers, so that listing the
       # metrics of thousands of runs (``aml history list``) reads one row per series
        """CREATE TABLE metric_last (
            run_id  TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            name    TEXT NOT NULL,
            step    INTEGER NOT NULL,
            value   TEXT NOT NULL,
            PRIMARY KEY (run_id, name)
        ) WITHOUT ROWID""",
        """INSERT INTO metric_last (run_id, name, step, value)
            SELECT run_id, name, MAX(step), value FROM metrics GROUP BY run_id, name""",
        """CREATE TRIGGER metric_last_on_insert AFTER INSERT ON metrics BEGIN
            INSERT INTO metric_last (run_id, name, step, value)
                VALUES (new.run_id, new.name, new.step, new.value)
                ON CONFLICT (run_id, name) DO UPDATE SET step = excluded.step,
                    value = excluded.value WHERE excluded.step >= metric_last.step;
        END""",
        """CREATE TRIGGER metric_last_on_delete AFTER DELETE ON metrics BEGIN
            DELETE FROM metric_last WHERE run_id = old.run_id AND name = old.name
                AND step = old.step;
            INSERT OR IGNORE INTO metric_last (run_id, name, step, value)
                SELECT run_id, name, MAX(step), value FROM metrics
                WHERE run_id = old.run_id AND name = old.name GROUP BY run_id, name;
        END""",
    ),
    (  # 3: what kind of run it is (a script, a sweep's parent, a tracked notebook), its
       # parent (a sweep's children), and its provenance (interpreter path and version, the
       # pythonLocation asked for): columns so that a sweep's children list by index
        "ALTER TABLE runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'script'",
        "ALTER TABLE runs ADD COLUMN parent_run_id TEXT",
        "ALTER TABLE runs ADD COLUMN provenance TEXT NOT NULL DEFAULT '{}'",
        "CREATE INDEX runs_by_parent ON runs (parent_run_id, created_at, run_id)",
    ),
    runs_table_migration(),   # 4: run parameters and sort indexes for the runs table
]
SCHEMA_VERSION = len(MIGRATIONS)

RUN_COLUMNS: tuple[str, ...] = (
    "run_id", "project", "run_configuration", "target", "target_type", "status", "created_at",
    "started_at", "ended_at", "exit_code", "reason", "command", "script", "config_snapshot",
    "environment", "snapshot_digest", "environment_hash", "git_commit", "git_dirty",
    "target_state", "kind", "parent_run_id", "provenance",
)
JSON_COLUMNS = frozenset({"command", "config_snapshot", "environment", "target_state",
                          "provenance"})
# Columns `RunStore.update` may change. Status goes through set_status (it records a
# transition); run_id, project and created_at are fixed at creation.
UPDATABLE_COLUMNS = frozenset(RUN_COLUMNS) - {"run_id", "project", "created_at", "status"}


def migrate(conn: sqlite3.Connection, *, db_path: str) -> None:
    """Bring the database to SCHEMA_VERSION. Runs inside BEGIN IMMEDIATE and re-reads the
    version there, so two processes opening a new project at once migrate it once."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise AmlError(f"{db_path}: run history schema version {version} is newer than this "
                       f"aml_magic understands ({SCHEMA_VERSION}); upgrade aml_magic")
    if version == 0:
        foreign = [row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").fetchall()]
        if foreign:
            raise HistoryDamaged(db_path, "an SQLite database of something else: it holds "
                                 f"{', '.join(sorted(map(str, foreign))[:5])} and no run history")
    for index in range(version, SCHEMA_VERSION):
        for statement in MIGRATIONS[index]:
            conn.execute(statement)
        # PRAGMA takes no parameters; the value is an int from our own list, never user input.
        conn.execute("PRAGMA user_version = %d" % (index + 1))


def preflight(db_path: Path, runs_dir: Path | None, *,
              keep_open: bool = False) -> sqlite3.Connection | None:
    """Refuse, read-only and before anything is written to it, a history file that is not a
    run history (another program's SQLite database, garbage), and a missing or empty one
    while run folders exist (the history was lost: repair rebuilds it; starting a new one
    would hide those runs). ``keep_open``: return the read-only connection (None for a new
    history) for the caller to close once its own is open: the first connection to a WAL
    database reads the whole log to index it, and the next one then need not."""
    try:
        size = db_path.stat().st_size
    except FileNotFoundError:
        size = 0
    if size == 0:
        if runs_dir is not None and runs_dir.is_dir() and any(runs_dir.iterdir()):
            raise HistoryDamaged(str(db_path), "it is missing or empty, but run folders exist "
                                 f"in {runs_dir}")
        return None
    try:
        conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error as exc:
        raise HistoryDamaged(str(db_path), str(exc)) from None
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        names = {str(row[0]) for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()}
    except sqlite3.DatabaseError as exc:
        conn.close()
        if "locked" in str(exc).lower() or "busy" in str(exc).lower():
            return None             # a writer is migrating it right now: it is ours
        raise HistoryDamaged(str(db_path), str(exc)) from None
    except BaseException:
        conn.close()
        raise
    foreign = names - {"runs", "transitions", "metrics", "artifacts"}
    if (version == 0 and names) or (foreign and "runs" not in names):
        conn.close()
        raise HistoryDamaged(str(db_path), "an SQLite database of something else: it holds "
                             f"{', '.join(sorted(names)[:5])} and no run history")
    if keep_open:
        return conn
    conn.close()
    return None


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _json_default(value: Any) -> Any:
    """Let numpy/pandas scalars and arrays through as plain JSON (``.item()``/``.tolist()``)."""
    for method in ("tolist", "item"):
        if hasattr(value, method):
            return getattr(value, method)()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def to_json(value: Any) -> str:
    return json.dumps(value, default=_json_default, separators=(",", ":"))


def encode_value(column: str, value: Any) -> Any:
    """One RunRecord field as its SQLite value."""
    if column == "target_state" and isinstance(value, TargetState):
        return to_json(value.to_json())
    if column in JSON_COLUMNS:
        return to_json(value if value is not None else ({} if column != "command" else []))
    if column == "status":
        return str(value)
    if column == "git_dirty":
        return None if value is None else int(bool(value))
    return value


def record_to_row(record: RunRecord) -> tuple[Any, ...]:
    return tuple(encode_value(column, getattr(record, column)) for column in RUN_COLUMNS)


def rows_to_records(rows: list[tuple[Any, ...]]) -> list[RunRecord]:
    """``row_to_record`` for many rows: each JSON column of all rows is decoded by one
    ``json.loads`` of one array (listing 10,000 runs would otherwise pay 40,000 calls)."""
    if not rows:
        return []
    positions = [RUN_COLUMNS.index(column) for column in sorted(JSON_COLUMNS)]
    decoded = {index: json.loads("[" + ",".join(row[index] for row in rows) + "]")
               for index in positions}
    dirty = RUN_COLUMNS.index("git_dirty")
    state = RUN_COLUMNS.index("target_state")
    records = []
    for number, row in enumerate(rows):
        values = list(row)
        for index in positions:
            values[index] = decoded[index][number]
        values[state] = TargetState.from_json(values[state])
        if values[dirty] is not None:
            values[dirty] = bool(values[dirty])
        records.append(RunRecord(**dict(zip(RUN_COLUMNS, values))))
    return records


def row_to_record(row: tuple[Any, ...]) -> RunRecord:
    values = dict(zip(RUN_COLUMNS, row))
    for column in JSON_COLUMNS:
        values[column] = json.loads(values[column])
    values["target_state"] = TargetState.from_json(values["target_state"])
    if values["git_dirty"] is not None:
        values["git_dirty"] = bool(values["git_dirty"])
    return RunRecord(**values)
