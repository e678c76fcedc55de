"""Schema 4: what the runs table sorts on, indexed, so a sort over 100,000 runs walks an index.

The expressions below are written once here and used both by the indexes and by the queries
of ``table.py``: SQLite uses an expression index only for the very same expression.

A run's *parameters* are its ``--name value`` and ``--name=value`` arguments (what a sweep
gives each child), kept in ``run_params`` by triggers on ``runs``, so every writer (the CLI,
a kernel, the server, ``aml history repair``) keeps them without knowing about them. Their
column has NUMERIC affinity: ``0.1`` is stored and sorted as a number, ``adam`` as text.
"""
from __future__ import annotations

#: A run's display name: its script, else its id (a tracked notebook has no script).
NAME_KEY = "COALESCE(script, run_id)"
#: When it started, or was submitted if it has not started.
START_KEY = "COALESCE(started_at, created_at)"
#: A metric's latest value as a number (JSON numbers only; lists, strings, NaN: NULL).
METRIC_KEY = ("(CASE WHEN value GLOB '[0-9]*' OR value GLOB '-[0-9]*'"
              " THEN CAST(value AS REAL) END)")

# Each element of json_each(command) after the script (key 0): "--name=value", or "--name"
# followed by a value that is not itself an option ("-0.5" is a value). The next element is
# read by its path: a self-join of json_each, or a window, costs several times more per insert.
_NEXT = "json_extract({command}, '$[' || (j.key + 1) || ']')"
_PARAMS = """INSERT OR REPLACE INTO run_params (run_id, name, value)
SELECT {run},
       CASE WHEN instr(j.value, '=') > 0 THEN substr(j.value, 3, instr(j.value, '=') - 3)
            ELSE substr(j.value, 3) END,
       CASE WHEN instr(j.value, '=') > 0 THEN substr(j.value, instr(j.value, '=') + 1)
            ELSE {next} END
FROM {source}
WHERE j.key > 0 AND j.type = 'text' AND j.value LIKE '--_%'
  AND (instr(j.value, '=') > 3 OR (instr(j.value, '=') = 0
       AND json_type({command}, '$[' || (j.key + 1) || ']') IN ('text', 'integer', 'real')
       AND {next} NOT LIKE '--%'))"""


def _params(run: str, command: str, source: str) -> str:
    return _PARAMS.format(run=run, command=command, source=source,
                          next=_NEXT.format(command=command))


_TRIGGER_PARAMS = _params("new.run_id", "new.command", "json_each(new.command) AS j") + ";"


def runs_table_migration() -> tuple[str, ...]:
    """The statements of migration 4 (see ``schema.MIGRATIONS``)."""
    return (
        """CREATE TABLE run_params (
            run_id  TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            name    TEXT NOT NULL,
            value   NUMERIC,
            PRIMARY KEY (run_id, name)
        ) WITHOUT ROWID""",
        "CREATE INDEX run_params_by_value ON run_params (name, value, run_id)",
        _params("r.run_id", "r.command", "runs AS r, json_each(r.command) AS j"),
        "CREATE TRIGGER run_params_on_insert AFTER INSERT ON runs"
        " WHEN new.command LIKE '%\"--%' BEGIN\n"
        + _TRIGGER_PARAMS + "\nEND",
        "CREATE TRIGGER run_params_on_update AFTER UPDATE OF command ON runs BEGIN\n"
        "DELETE FROM run_params WHERE run_id = new.run_id;\n"
        + _TRIGGER_PARAMS + "\nEND",
        # value too, so that SQLite 3.40 (which does not see an expression as covered) reads
        # a page at a deep offset from the index alone
        f"CREATE INDEX metric_last_by_value ON metric_last (name, {METRIC_KEY}, run_id, value)",
        f"CREATE INDEX runs_by_name ON runs ({NAME_KEY}, created_at, run_id)",
        f"CREATE INDEX runs_by_start ON runs ({START_KEY}, run_id)",
    )
