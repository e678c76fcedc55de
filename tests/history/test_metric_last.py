"""``metric_last`` (schema 2): the last value of each series, kept by triggers, read by
``RunStore.last_metric_values`` for ``aml history list``. Checked against the metrics table
itself after inserts out of order, replaced steps, deleted rows, deleted runs, and a database
migrated from schema 1."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from aml_magic.domain.history import Metric, RunRecord, RunStore
from aml_magic.domain.history import schema


def _run(store: RunStore, number: int) -> str:
    run_id = store.new_run_id("p") + f"{number}"
    store.create_run(RunRecord(run_id=run_id, project="p", command=["t.py", str(number)]))
    return run_id


def _from_metrics(db: Path) -> dict[str, dict[str, object]]:
    """The same answer computed from the metrics table (the oracle)."""
    import json
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT run_id, name, value, MAX(step) FROM metrics "
                        "GROUP BY run_id, name").fetchall()
    conn.close()
    found: dict[str, dict[str, object]] = {}
    for run_id, name, value, _ in rows:
        found.setdefault(run_id, {})[name] = json.loads(value)
    return found


def test_last_values_follow_inserts_replacements_and_deletes(tmp_path: Path) -> None:
    with RunStore(tmp_path) as store:
        a, b = _run(store, 1), _run(store, 2)
        store.add_metrics(a, [Metric("loss", 0.9, 2), Metric("loss", 0.5, 7),
                              Metric("loss", 0.7, 3), Metric("acc", [1, 2], None)])
        store.add_metrics(b, [Metric("acc", 0.1), Metric("acc", 0.2)])
        assert store.last_metric_values([a, b]) == {a: {"acc": [1, 2], "loss": 0.5},
                                                    b: {"acc": 0.2}}
        store.add_metrics(a, [Metric("loss", 0.25, 7)])          # the same step, replaced
        assert store.last_metric_values([a])[a]["loss"] == 0.25
        conn = sqlite3.connect(store.db_path)
        with conn:
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("DELETE FROM metrics WHERE run_id = ? AND name = 'loss' AND step = 7",
                         (a,))
        conn.close()
        assert store.last_metric_values([a])[a]["loss"] == 0.7
        assert store.last_metric_values([a, b]) == _from_metrics(store.db_path)
        store.delete_run(b)
        assert b not in store.last_metric_values([a, b])
        conn = sqlite3.connect(store.db_path)
        assert conn.execute("SELECT COUNT(*) FROM metric_last WHERE run_id = ?",
                            (b,)).fetchone()[0] == 0
        conn.close()


def test_many_runs_are_read_in_chunks(tmp_path: Path) -> None:
    with RunStore(tmp_path) as store:
        ids = [_run(store, n) for n in range(1203)]          # > 2 chunks of 500
        for n, run_id in enumerate(ids):
            store.add_metrics(run_id, [Metric("n", n), Metric("n", n + 1)])
        last = store.last_metric_values(ids)
        assert last == {run_id: {"n": n + 1} for n, run_id in enumerate(ids)}


def test_a_schema_1_database_is_migrated_with_its_last_values(tmp_path: Path) -> None:
    db = tmp_path / ".aml" / "history.db"
    db.parent.mkdir()
    conn = sqlite3.connect(db)
    for statement in schema.MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO runs (run_id, project, target, target_type, status, created_at)"
                 " VALUES ('p_1_0001', 'p', 'local', 'local', 'Completed', 1.0)")
    conn.executemany("INSERT INTO metrics (run_id, name, value, step, time) VALUES "
                     "('p_1_0001', ?, ?, ?, 1.0)", [("acc", "0.5", 0), ("acc", "0.75", 1),
                                                    ("loss", "3", 0)])
    conn.commit()
    conn.close()
    with RunStore(tmp_path) as store:
        assert store.schema_version == schema.SCHEMA_VERSION == 4
        assert store.last_metric_values(["p_1_0001"]) == {"p_1_0001": {"acc": 0.75, "loss": 3}}
        record = store.get("p_1_0001")
        assert (record.kind, record.parent_run_id, record.provenance) == ("script", None, {})


def test_kind_parent_and_provenance_round_trip(tmp_path: Path) -> None:
    with RunStore(tmp_path) as store:
        parent = _run(store, 0)
        child = RunRecord(run_id="p_1_0002", project="p", kind="script", parent_run_id=parent,
                          provenance={"python": "/usr/bin/python3", "python_version": "3.11.2"})
        store.create_run(child)
        got = store.get("p_1_0002")
        assert got.parent_run_id == parent
        assert got.provenance["python_version"] == "3.11.2"
