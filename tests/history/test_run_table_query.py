"""The runs table's query (domain/history/table.py) over a real SQLite history: every sort
order equals the same sort done in Python over the records, in both directions and across
pages; filters, the text search, parameters from arguments, and the schema 3 -> 4 migration."""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Callable

import pytest

from aml_magic.domain.history import RunRecord, RunStatus, RunStore, schema
from aml_magic.domain.history.records import Metric
from aml_magic.domain.history.table import (
    RunQuery, metric_names, param_names, param_values, query_runs
)

STATUSES = (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELED, RunStatus.RUNNING)
N = 41
NOW = 2e9


def _record(i: int) -> RunRecord:
    started = None if i % 7 == 0 else 1000.0 + i * 3
    status = RunStatus.QUEUED if started is None else STATUSES[i % 4]
    ended = None if started is None or status is RunStatus.RUNNING else started + (i * 37) % 11
    args = [f"--lr={(i * 13) % 5 / 10}", "--depth", str(-(i % 3))] if i % 5 else ["--opt", "adam"]
    return RunRecord(run_id=f"p_{1000 + i:013d}_{i:04x}", project="p", target=("local", "gpu")[i % 2],
                     target_type="local", status=status, created_at=1000.0 + i, started_at=started,
                     ended_at=ended, script=f"train{i % 6}.py", command=[f"train{i % 6}.py", *args])


@pytest.fixture
def seeded(tmp_path: Path) -> tuple[RunStore, list[RunRecord]]:
    store = RunStore(tmp_path)
    records = [_record(i) for i in range(N)]
    store.insert_many(records)
    for i, record in enumerate(records):
        if i % 4 != 3:                      # every fourth run logged no loss
            store.add_metrics(record.run_id, [Metric("loss", 9.0, 0, 1.0),
                                              Metric("loss", ((i * 7) % 13) / 4, 1, 2.0)])
    return store, records


def _everything(store: RunStore, **query: Any) -> list[str]:
    """Every run of the query, a page of 7 at a time."""
    ids: list[str] = []
    while True:
        page = query_runs(store, RunQuery(limit=7, offset=len(ids), **query), now=NOW)
        ids += [r.run_id for r in page.records]
        if len(page.records) < 7:
            return ids


def _expected(records: list[RunRecord], key: Callable[[RunRecord], Any], descending: bool,
              *, present: Callable[[RunRecord], bool] = lambda r: True,
              rest_key: Callable[[RunRecord], Any] = lambda r: r.created_at) -> list[str]:
    """Runs with a key in key order (ties by id), then those without, newest (oldest) first."""
    keyed = sorted((r for r in records if present(r)), key=lambda r: (key(r), r.run_id),
                   reverse=descending)
    rest = sorted((r for r in records if not present(r)), key=lambda r: (rest_key(r), r.run_id),
                  reverse=descending)
    return [r.run_id for r in keyed + rest]


@pytest.mark.parametrize("descending", [True, False])
def test_every_column_sorts_like_python_across_pages(seeded: tuple[RunStore, list[RunRecord]],
                                                      descending: bool) -> None:
    store, records = seeded
    last_loss = {r.run_id: ((i * 7) % 13) / 4 for i, r in enumerate(records) if i % 4 != 3}
    lr = {r.run_id: float(r.command[1].split("=")[1]) for r in records if r.command[1] != "--opt"}
    columns: dict[str, tuple[Callable[[RunRecord], Any], Callable[[RunRecord], bool]]] = {
        "start": (lambda r: r.started_at if r.started_at is not None else r.created_at,
                  lambda r: True),
        "created": (lambda r: r.created_at, lambda r: True),
        "status": (lambda r: (r.status.value, r.created_at), lambda r: True),
        "target": (lambda r: (r.target, r.created_at), lambda r: True),
        "name": (lambda r: (r.script, r.created_at), lambda r: True),
        "metric:loss": (lambda r: last_loss[r.run_id], lambda r: r.run_id in last_loss),
        "param:lr": (lambda r: lr[r.run_id], lambda r: r.run_id in lr),
    }
    for sort, (key, present) in columns.items():
        # When the table is read page by page in this order
        got = _everything(store, sort=sort, descending=descending)
        # Then it is the order Python gives the same records, each run once
        assert got == _expected(records, key, descending, present=present), sort
    # And duration counts a live run to now, and puts runs not started last either way
    started = [r for r in records if r.started_at is not None]
    duration = {r.run_id: (r.ended_at if r.ended_at is not None else NOW) - (r.started_at or 0)
                for r in started}
    got = _everything(store, sort="duration", descending=descending)
    keyed = sorted(started, key=lambda r: (duration[r.run_id], r.run_id), reverse=descending)
    assert got[:len(keyed)] == [r.run_id for r in keyed]
    assert set(got[len(keyed):]) == {r.run_id for r in records if r.started_at is None}


def test_filters_search_and_total(seeded: tuple[RunStore, list[RunRecord]]) -> None:
    store, records = seeded
    # When the table is filtered by status and target, and searched
    query = RunQuery(sort="metric:loss", statuses=("Failed", "Completed"), target="gpu",
                     limit=100)
    page = query_runs(store, query)
    wanted = [r for r in records if r.status.value in ("Failed", "Completed") and r.target == "gpu"]
    # Then only those runs come, and the total counts them
    assert {r.run_id for r in page.records} == {r.run_id for r in wanted}
    assert page.total == len(wanted)
    # And the search finds ids, scripts and arguments, case-insensitively, '_' literally
    assert [r.run_id for r in query_runs(store, RunQuery(text=records[5].run_id[-9:])).records] \
        == [records[5].run_id]
    assert query_runs(store, RunQuery(text="TRAIN4", limit=100)).total == \
        sum(1 for r in records if r.script == "train4.py")
    assert query_runs(store, RunQuery(text="adam", limit=100)).total == \
        sum(1 for r in records if "adam" in r.command)
    assert query_runs(store, RunQuery(text="p%")).total == 0
    # And a page past the end is empty with the total still counted
    beyond = query_runs(store, RunQuery(sort="param:lr", offset=500))
    assert beyond.records == [] and beyond.total == N


def test_names_are_values_never_sql(seeded: tuple[RunStore, list[RunRecord]]) -> None:
    store, records = seeded
    # Given a metric whose name is SQL
    hostile = "x' OR 1=1; DROP TABLE runs; --"
    store.add_metrics(records[0].run_id, [Metric(hostile, 1.5, 0, 1.0)])
    # When the table sorts by it, or by a parameter of that name
    page = query_runs(store, RunQuery(sort="metric:" + hostile, limit=100))
    query_runs(store, RunQuery(sort="param:" + hostile, text=hostile))
    # Then it is just a name: the run that has it first, then every other run, none dropped
    assert page.records[0].run_id == records[0].run_id and page.total == N
    assert hostile in metric_names(store)


def test_parameters_come_from_arguments(tmp_path: Path) -> None:
    with RunStore(tmp_path) as store:
        # Given runs with --name value, --name=value, a negative number and a bare flag
        store.insert_many([RunRecord(run_id="p_1_0001", project="p", command=[
            "t.py", "--lr", "0.5", "--opt=adam", "--shift", "-0.25", "--verbose", "--n", "3"])])
        # Then each becomes a parameter, numbers as numbers
        assert param_values(store, ["p_1_0001"]) == {"p_1_0001": {
            "lr": 0.5, "opt": "adam", "shift": -0.25, "n": 3}}
        assert param_names(store) == ["lr", "n", "opt", "shift"]
        # And changing the command changes them
        store.update("p_1_0001", command=["t.py", "--lr=2"])
        assert param_values(store, ["p_1_0001"]) == {"p_1_0001": {"lr": 2}}


def test_a_schema_3_history_is_migrated_with_its_parameters(tmp_path: Path) -> None:
    db = tmp_path / ".aml" / "history.db"
    db.parent.mkdir()
    conn = sqlite3.connect(db)
    for statements in schema.MIGRATIONS[:3]:
        for statement in statements:
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 3")
    conn.execute("INSERT INTO runs (run_id, project, target, target_type, status, created_at,"
                 " command) VALUES ('p_1_0001', 'p', 'local', 'local', 'Completed', 1.0,"
                 " '[\"t.py\", \"--lr\", \"0.1\", \"--k=v\"]')")
    conn.commit()
    conn.close()
    with RunStore(tmp_path) as store:
        assert store.schema_version == schema.SCHEMA_VERSION == 4
        assert param_values(store, ["p_1_0001"]) == {"p_1_0001": {"lr": 0.1, "k": "v"}}
        assert [r.run_id for r in query_runs(store, RunQuery(sort="param:lr")).records] \
            == ["p_1_0001"]


def test_bad_queries_say_what_to_use() -> None:
    with pytest.raises(ValueError, match="metric:NAME"):
        RunQuery(sort="bogus")
    with pytest.raises(ValueError, match=">= 0"):
        RunQuery(offset=-1)
