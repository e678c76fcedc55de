"""Listing is right at 100,000 runs and is answered from an index (no sort of the table). How fast
it is, is measured by ``benchmarks/bench_history.py``, not asserted here."""
from __future__ import annotations

from pathlib import Path

from aml_magic.domain.history import RunRecord, RunStatus, RunStore

RUNS = 100_000


def test_listing_newest_50_of_100k_runs(tmp_path: Path):
    # Given 100,000 runs spread over three targets and every status
    statuses, targets = list(RunStatus), ["local", "gpu", "docker"]
    store = RunStore(tmp_path)
    start = 1_700_000_000.0
    store.insert_many(RunRecord(run_id=f"p_{int((start + i) * 1000):013d}_{i % 65536:04x}",
                                project="p", target=targets[i % 3], status=statuses[i % 7],
                                created_at=start + i, command=["python", "train.py"])
                      for i in range(RUNS))
    # When the newest 50 are listed, unfiltered and filtered
    for filters in ({}, {"status": RunStatus.RUNNING}, {"target": "gpu"},
                    {"target": "gpu", "status": RunStatus.FAILED}):
        runs = store.list_runs(limit=50, **filters)
        # Then the right rows come back, newest first
        assert len(runs) == 50
        assert [r.created_at for r in runs] == sorted((r.created_at for r in runs), reverse=True)
        assert all(getattr(r, k) == v for r in runs for k, v in filters.items())
    assert store.list_runs(limit=1)[0].created_at == start + RUNS - 1
    store.close()
