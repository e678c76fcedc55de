"""The runs table's query: one page of a project's runs, filtered and sorted by any column (a
run's start, duration, status, target, name, a metric's latest value or a parameter), and the
total. Every statement is assembled from constants of this module and ``?`` placeholders only:
metric and parameter names, statuses and search text travel as values, never as SQL.

Each sort but duration walks an index (``table_schema``) and stops after the page, so it costs
about the same at 100 or 100,000 runs; the page's ids are found first and its rows read after
(a sort carries ids, not whole records). Runs without the sorted metric or parameter come
after those that have it, in either order.
"""
from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aml_magic.domain.history import schema
from aml_magic.domain.history.records import RunRecord, parse_status
from aml_magic.domain.history.table_schema import METRIC_KEY, NAME_KEY, START_KEY

if TYPE_CHECKING:
    from aml_magic.domain.history.store import RunStore

#: The columns the table sorts by, besides ``metric:NAME`` and ``param:NAME``, and what
#: each sorts on (the leading columns of an index, so the order is read from it).
SORT_KEYS: dict[str, tuple[str, ...]] = {
    "start": (START_KEY,),
    "created": ("created_at",),
    "status": ("status", "created_at"),
    "target": ("target", "created_at"),
    "name": (NAME_KEY, "created_at"),
    "duration": ("(COALESCE(ended_at, ?) - started_at)",),
}
METRIC_PREFIX, PARAM_PREFIX = "metric:", "param:"
#: At most this many metric (or parameter) names are offered as columns.
MAX_NAMES = 500
_SELECT = "SELECT " + ", ".join(schema.RUN_COLUMNS) + " FROM runs WHERE run_id IN ("
# (table, the sort value) of a metric's and a parameter's sort
_KEYED = {METRIC_PREFIX: ("metric_last", METRIC_KEY), PARAM_PREFIX: ("run_params", "value")}
_NAMES = """WITH RECURSIVE found(name) AS (
    SELECT MIN(name) FROM {table}
    UNION ALL
    SELECT (SELECT MIN(name) FROM {table} WHERE name > found.name) FROM found
    WHERE found.name IS NOT NULL)
SELECT name FROM found WHERE name IS NOT NULL LIMIT ?"""


@dataclass(frozen=True)
class RunQuery:
    """What the table asks for. ``sort``: a key of ``SORT_KEYS``, or ``metric:NAME`` or
    ``param:NAME``; ``text``: searched in ids, scripts and arguments (case-insensitive)."""

    sort: str = "start"
    descending: bool = True
    statuses: tuple[str, ...] = ()
    target: str | None = None
    parent: str | None = None
    text: str = ""
    offset: int = 0
    limit: int = 50

    def __post_init__(self) -> None:
        if self.limit < 0 or self.offset < 0:
            raise ValueError("limit and offset must be >= 0")
        sort_key(self.sort)


@dataclass
class RunTablePage:
    records: list[RunRecord]
    total: int                  # runs matching the filters


def sort_key(sort: str) -> tuple[str, str]:
    """``(kind, name)``: ``("column", "start")``, ``("metric:", "loss")``...; ValueError
    naming the choices for anything else."""
    for prefix in _KEYED:
        if sort.startswith(prefix) and len(sort) > len(prefix):
            return prefix, sort[len(prefix):]
    if sort in SORT_KEYS:
        return "column", sort
    raise ValueError(f"cannot sort runs by {sort!r}: use one of {', '.join(SORT_KEYS)}, "
                     "metric:NAME or param:NAME")


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _filters(query: RunQuery) -> tuple[str, list[Any]]:
    """`` AND ...`` conditions on ``runs`` and their values."""
    sql, params = "", []
    if query.statuses:
        sql += " AND runs.status IN (" + ", ".join("?" for _ in query.statuses) + ")"
        params += [parse_status(s).value for s in query.statuses]
    if query.target is not None:
        sql += " AND runs.target = ?"
        params.append(query.target)
    if query.parent is not None:
        sql += " AND runs.parent_run_id = ?"
        params.append(query.parent)
    if query.text.strip():
        sql += (" AND (runs.run_id LIKE ? ESCAPE '\\' OR runs.script LIKE ? ESCAPE '\\'"
                " OR runs.command LIKE ? ESCAPE '\\')")
        params += [_like(query.text.strip())] * 3
    return sql, params


def _page_ids(conn: sqlite3.Connection, query: RunQuery, now: float) -> list[str]:
    where, params = _filters(query)
    direction = " DESC" if query.descending else ""
    kind, name = sort_key(query.sort)
    # A text search matches few runs, anywhere: one scan of the table then a sort of those
    # beats walking an index in order and looking up every run on the way.
    scan = " NOT INDEXED" if query.text.strip() else ""
    if kind == "column":
        keys = SORT_KEYS[name]
        order = ", ".join(k + direction + (" NULLS LAST" if name == "duration" else "")
                          for k in keys)
        sql = (f"SELECT run_id FROM runs{scan} WHERE 1{where} ORDER BY {order},"
               f" run_id{direction} LIMIT ? OFFSET ?")
        values = [now] if name == "duration" else []
        return [r[0] for r in conn.execute(sql, params + values + [query.limit, query.offset])]
    table, value = _KEYED[kind]
    # Unfiltered, walk the metric's (parameter's) index in order and stop after the page.
    # Filtered, that walk would look up every run to test it (a second per 100,000): read the
    # matching runs first (their index, or one scan of the table for a text search), then sort.
    keyed_from = (f" FROM {table}" if not where else
                  f" FROM runs{scan} CROSS JOIN {table} ON {table}.run_id = runs.run_id")
    keyed_from += f" WHERE {table}.name = ?"
    sql = (f"SELECT {table}.run_id{keyed_from}{where} ORDER BY {value}{direction},"
           f" {table}.run_id{direction} LIMIT ? OFFSET ?")
    ids = [r[0] for r in conn.execute(sql, [name, *params, query.limit, query.offset])]
    if len(ids) == query.limit:
        return ids
    # then the runs without that metric or parameter, newest (or oldest) first
    keyed = int(conn.execute(f"SELECT COUNT(*){keyed_from}{where}", [name, *params]).fetchone()[0])
    sql = (f"SELECT run_id FROM runs WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE"
           f" {table}.run_id = runs.run_id AND {table}.name = ?){where}"
           f" ORDER BY created_at{direction}, run_id{direction} LIMIT ? OFFSET ?")
    rest = conn.execute(sql, [name, *params, query.limit - len(ids),
                              max(0, query.offset - keyed)]).fetchall()
    return ids + [r[0] for r in rest]


def query_runs(store: RunStore, query: RunQuery, *, now: float | None = None) -> RunTablePage:
    """One page of runs in the query's order and the total matching, read in one transaction
    (``now``: the end of a live run's duration)."""
    moment = time.time() if now is None else now

    def read(conn: sqlite3.Connection) -> RunTablePage:
        ids = _page_ids(conn, query, moment)
        rows = conn.execute(_SELECT + ", ".join("?" for _ in ids) + ")", ids).fetchall()
        where, params = _filters(query)
        total = int(conn.execute("SELECT COUNT(*) FROM runs WHERE 1" + where,
                                 params).fetchone()[0])
        by_id = {record.run_id: record for record in schema.rows_to_records(rows)}
        return RunTablePage([by_id[i] for i in ids if i in by_id], total)
    return store.read(read)


def metric_names(store: RunStore) -> list[str]:
    """Every metric name in the project, sorted: one index seek per name."""
    sql = _NAMES.format(table="metric_last")
    return store.read(lambda conn: [r[0] for r in conn.execute(sql, (MAX_NAMES,))])


def param_names(store: RunStore) -> list[str]:
    """Every parameter name in the project, sorted."""
    sql = _NAMES.format(table="run_params")
    return store.read(lambda conn: [r[0] for r in conn.execute(sql, (MAX_NAMES,))])


def param_values(store: RunStore, run_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Each run's parameters (numbers as numbers), for a page of runs."""
    def read(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        sql = ("SELECT run_id, name, value FROM run_params WHERE run_id IN ("
               + ", ".join("?" for _ in run_ids) + ") ORDER BY run_id, name")
        for run_id, name, value in conn.execute(sql, run_ids):
            found.setdefault(run_id, {})[name] = value
        return found
    return store.read(read) if run_ids else {}
