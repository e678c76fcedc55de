"""Run-history listing at scale: median time to list the 50 newest runs among N (default
100,000), unfiltered and filtered by status and/or target. The contract is < 20 ms.

    python3 benchmarks/bench_history.py [--runs 100000] [--repeat 50]

Prints a table; not a test (tests/history/test_run_store_scale.py checks a generous bound).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aml_magic.domain.history import RunRecord, RunStatus, RunStore  # noqa: E402
from aml_magic.domain.target_state import TargetState  # noqa: E402

TARGETS = ("local", "gpuvm", "docker", "cluster")
CONTRACT_MS = 20.0


def status_of(i: int, runs: int) -> RunStatus:
    """Like a real history: nearly all runs ended, the newest few live, and ~0.1% stuck in
    Running across the whole range (so filtering by a rare status has something to find)."""
    if i >= runs - 10:
        return RunStatus.RUNNING if i % 2 else RunStatus.QUEUED
    if i % 997 == 0:
        return RunStatus.RUNNING
    return (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELED)[i % 3]


def populate(store: RunStore, runs: int) -> float:
    """Insert ``runs`` plausible runs in one transaction; returns the seconds it took."""
    start = time.time() - runs
    env = {"AZUREML_RUN_ID": "x", "TOKEN": "******", "PYTHONUNBUFFERED": "1"}
    t0 = time.perf_counter()
    store.insert_many(
        RunRecord(run_id=f"bench_{int((start + i) * 1000):013d}_{i % 65536:04x}", project="bench",
                  run_configuration=TARGETS[i % 4], target=TARGETS[i % 4], target_type="remote",
                  status=status_of(i, runs), created_at=start + i,
                  started_at=start + i + 1, command=["python", "train.py", str(i % 10 / 10)],
                  script="train.py", environment=env,
                  target_state=TargetState.from_json({"pid": i, "offset": i * 10}))
        for i in range(runs))
    return time.perf_counter() - t0


def median_ms(action: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    timings, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = action()
        timings.append((time.perf_counter() - t0) * 1000)
    return statistics.median(timings), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="aml-bench-history-") as tmp, RunStore(Path(tmp)) as store:
        seconds = populate(store, args.runs)
        print(f"inserted {args.runs:,} runs in {seconds:.2f} s (one transaction)\n")
        cases: list[tuple[str, Callable[[], Any]]] = [
            ("newest 50", lambda: store.list_runs(limit=50)),
            ("newest 50, status=Running", lambda: store.list_runs(status="Running")),
            ("newest 50, target=gpuvm", lambda: store.list_runs(target="gpuvm")),
            ("newest 50, target+status", lambda: store.list_runs(target="gpuvm",
                                                                status="Failed")),
            ("page 100 (offset 5,000)", lambda: store.list_runs(offset=5_000)),
            ("get one run", lambda: store.get(store.list_runs(limit=1)[0].run_id)),
            ("active_runs()", store.active_runs),
            ("count_runs()", store.count_runs),
        ]
        print(f"{'query':<28} {'median ms':>10} {'rows':>6}  {'contract':>8}")
        print("-" * 56)
        worst = 0.0
        for name, action in cases:
            ms, result = median_ms(action, args.repeat)
            rows = len(result) if isinstance(result, list) else 1
            listing = name.startswith("newest")
            if listing:
                worst = max(worst, ms)
            verdict = ("ok" if ms < CONTRACT_MS else "SLOW") if listing else "-"
            print(f"{name:<28} {ms:>10.3f} {rows:>6}  {verdict:>8}")
    print(f"\nworst listing median: {worst:.3f} ms (contract < {CONTRACT_MS:.0f} ms)")
    return 0 if worst < CONTRACT_MS else 1


if __name__ == "__main__":
    sys.exit(main())
