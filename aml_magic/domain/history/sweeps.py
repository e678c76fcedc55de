"""The project's sweeps, for the runs table's sweep filter: the runs that are some run's parent,
found by skipping through the ``runs_by_parent`` index (one seek per sweep, so 100,000 child
runs cost what a handful of sweeps do), newest first, with how many children each has."""
from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from aml_magic.domain.history import schema

if TYPE_CHECKING:
    from aml_magic.domain.history.records import RunRecord
    from aml_magic.domain.history.store import RunStore

_PARENTS = """WITH RECURSIVE found(id) AS (
    SELECT MIN(parent_run_id) FROM runs WHERE parent_run_id IS NOT NULL
    UNION ALL
    SELECT (SELECT MIN(parent_run_id) FROM runs WHERE parent_run_id > found.id) FROM found
    WHERE found.id IS NOT NULL)
SELECT id FROM found WHERE id IS NOT NULL"""
_CHILDREN = "SELECT COUNT(*) FROM runs WHERE parent_run_id = ?"
_SELECT = "SELECT " + ", ".join(schema.RUN_COLUMNS) + " FROM runs WHERE run_id = ?"


def sweep_parents(store: RunStore, *, limit: int) -> list[tuple[RunRecord, int]]:
    """(parent record, child count) of at most LIMIT sweeps, newest first; a parent whose own
    record was deleted is left out (its children stay listed in the table)."""
    def read(conn: sqlite3.Connection) -> list[tuple[RunRecord, int]]:
        found: list[tuple[RunRecord, int]] = []
        for (parent,) in conn.execute(_PARENTS).fetchall():
            rows = conn.execute(_SELECT, (parent,)).fetchall()
            if rows:
                count = int(conn.execute(_CHILDREN, (parent,)).fetchone()[0])
                found.append((schema.rows_to_records(rows)[0], count))
        found.sort(key=lambda pair: (pair[0].created_at, pair[0].run_id), reverse=True)
        return found[:limit]
    return store.read(read)
