"""Listing the workspace's runs on a real PostgreSQL: the latest value of a metric kept by the
trigger of migration 4, sorting by it, and keyset paging that returns what OFFSET paging does."""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from aml_magic.domain.teamdb import TeamDatabase, connect, migrate
from aml_magic.domain.teamdb.listing import BadListing, Listing, encode_cursor, list_page
from aml_magic.domain.teamdb.runs import TeamRunStore
from tests.fixtures.postgres import PostgresServer

pytestmark = pytest.mark.postgres


def pushed(number: int, status: str, metrics: list[list[Any]]) -> dict[str, Any]:
    return {"record": {"run_id": f"p-{number:04d}", "project": "p", "target": f"t{number % 3}",
                       "target_type": "local", "status": status, "created_at": 1000.0 + number // 2,
                       "kind": "script"},
            "metrics": metrics}


@pytest.fixture()
def db(postgres: PostgresServer) -> Iterator[TeamDatabase]:
    url = postgres.create_database()
    with connect(url) as conn:
        migrate(conn)
    database = TeamDatabase(url)
    try:
        yield database
    finally:
        database.close()


def walk(db: TeamDatabase, listing: Listing) -> list[str]:
    """Every run id, page after page, following ``next``."""
    seen: list[str] = []
    after = None
    for _ in range(1000):
        runs, after, _ = list_page(db, dataclasses.replace(listing, after=after))
        seen += [r["run_id"] for r in runs]
        if after is None:
            return seen
    raise AssertionError("paging never ended")


def test_the_latest_numeric_value_of_a_metric_is_kept(db: TeamDatabase) -> None:
    store = TeamRunStore(db)
    # Given steps out of order, a string value, and a number too large for a double
    store.push("ada", [pushed(1, "Completed", [["loss", 0.5, 1, 1.0], ["loss", 0.9, 0, 0.5],
                                                ["loss", "nan?", 2, 2.0], ["acc", 10 ** 400, 0, 1]])])
    conn = db.connection()
    with conn.transaction():
        rows = conn.execute("SELECT run_id, name, value, step FROM metric_latest").fetchall()
    assert rows == [("p-0001", "loss", 0.5, 1)]
    # When a later step arrives (a mirror pass), it becomes the latest
    store.push("ada", [pushed(1, "Completed", [["loss", 0.25, 3, 3.0]])])
    with conn.transaction():
        rows = conn.execute("SELECT value, step FROM metric_latest").fetchall()
    assert rows == [(0.25, 3)]
    # And a step stored again with another value (the journal replaced it) is updated
    store.push("ada", [pushed(1, "Completed", [["loss", 0.2, 3, 3.5]])])
    with conn.transaction():
        rows = conn.execute("SELECT value, step FROM metric_latest").fetchall()
        steps = conn.execute("SELECT step, value FROM metrics WHERE name = 'loss' "
                             "ORDER BY step").fetchall()
    assert rows == [(0.2, 3)] and steps == [(0, 0.9), (1, 0.5), (2, "nan?"), (3, 0.2)]


def test_sorted_by_a_metric_and_paged_by_keyset(db: TeamDatabase) -> None:
    store = TeamRunStore(db)
    runs = [pushed(n, ("Completed", "Failed")[n % 2],
                   [["loss", round((n * 37) % 23 / 10, 1), 0, 1.0]] if n % 5 else [])
            for n in range(1, 121)]
    store.push("ada", runs)
    with_loss = {r["record"]["run_id"]: r["metrics"][0][1] for r in runs if r["metrics"]}
    # Sorted by loss, lowest first, ties by run id; runs without a loss are not listed
    expected = sorted(with_loss, key=lambda r: (with_loss[r], r))
    page, cursor, values = list_page(db, Listing(sort="metric:loss", order="asc", limit=10))
    assert [r["run_id"] for r in page] == expected[:10] and cursor is not None
    assert values == {r: with_loss[r] for r in expected[:10]}
    assert walk(db, Listing(sort="metric:loss", order="asc", limit=7)) == expected
    assert walk(db, Listing(sort="metric:loss", order="desc", limit=7)) == expected[::-1]
    # With a filter, keyset pages give what OFFSET pages give
    failed = [r for r in expected[::-1] if int(r[2:]) % 2]
    assert walk(db, Listing(sort="metric:loss", status="Failed", limit=4)) == failed
    # Newest first (created_at ties: by run id), by keyset, equals the offset pages
    by_offset = [r["run_id"] for offset in range(0, 120, 11)
                 for r in list_page(db, Listing(limit=11, offset=offset))[0]]
    assert walk(db, Listing(limit=11)) == by_offset and len(by_offset) == 120
    assert walk(db, Listing(limit=9, target="t1")) == [r for r in by_offset if int(r[2:]) % 3 == 1]


@pytest.mark.parametrize("listing, message", [
    (Listing(sort="loss"), "'sort' must be"),
    (Listing(sort="metric:"), "'sort' must be"),
    (Listing(order="up"), "'order' must be"),
    (Listing(order="asc"), "newest first only"),
    (Listing(after="garbage!"), "not a cursor"),
    (Listing(after=encode_cursor(1.0, "x"), offset=5), "not both"),
])
def test_a_bad_listing_is_refused_in_one_line(db: TeamDatabase, listing: Listing,
                                              message: str) -> None:
    with pytest.raises(BadListing, match=message) as refused:
        list_page(db, listing)
    assert "\n" not in str(refused.value)
