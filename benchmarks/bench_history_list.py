"""``aml history list -o table`` end to end (a new ``aml`` process, as a user types it) over a
project with N runs (default 10,000) that logged M metrics each (default 5, every one a series
of 3 steps: the listing shows the last value). The contract (issue 11) is < 300 ms.

    python3 benchmarks/bench_history_list.py [--runs 10000] [--metrics 5] [--repeat 7]

Prints the median and the best wall time of the whole command, and checks the table has one
line per run and one column per metric. Not a test.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aml_magic.domain.config import init_project  # noqa: E402
from aml_magic.domain.history import RunRecord, RunStatus, RunStore  # noqa: E402
from aml_magic.domain.history.records import Metric  # noqa: E402

CONTRACT_MS = 300.0
STEPS = 3


def populate(project: Path, runs: int, metrics: int) -> float:
    """``runs`` ended runs with ``metrics`` series of ``STEPS`` values each; returns seconds."""
    t0 = time.perf_counter()
    start = time.time() - runs
    with RunStore(project) as store:
        store.insert_many(
            RunRecord(run_id=f"bench_{int((start + i) * 1000):013d}_{i % 65536:04x}",
                      project="bench", run_configuration="local", target="local",
                      target_type="local", status=RunStatus.COMPLETED, created_at=start + i,
                      started_at=start + i + 0.1, ended_at=start + i + 0.9, exit_code=0,
                      command=["train.py", str(i % 10 / 10)], script="train.py")
            for i in range(runs))
        for record in store.list_runs(limit=runs):
            store.add_metrics(record.run_id, [
                Metric(f"metric_{m}", (hash((record.run_id, m, s)) % 1000) / 1000, s, start)
                for m in range(metrics) for s in range(STEPS)])
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--metrics", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "aml_magic", "history", "list", "-o", "table"]
    with tempfile.TemporaryDirectory(prefix="aml-bench-history-list-") as tmp:
        project = init_project(Path(tmp) / "proj")
        seconds = populate(project, args.runs, args.metrics)
        print(f"populated {args.runs:,} runs x {args.metrics} metrics x {STEPS} steps in "
              f"{seconds:.1f} s")
        timings = []
        out = ""
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            proc = subprocess.run(command, cwd=project, env=env, capture_output=True,
                                  text=True, check=True)
            timings.append((time.perf_counter() - t0) * 1000)
            out = proc.stdout
        lines = out.splitlines()
        assert len(lines) == args.runs + 1, f"{len(lines)} lines for {args.runs} runs"
        assert all(f"metric_{m}" in lines[0] for m in range(args.metrics)), lines[0]
        median = statistics.median(timings)
        verdict = "ok" if median < CONTRACT_MS else "OVER"
        print(f"aml history list -o table: median {median:.0f} ms, best {min(timings):.0f} ms "
              f"over {args.repeat} runs (contract < {CONTRACT_MS:.0f} ms: {verdict})")
        return 0 if median < CONTRACT_MS else 1


if __name__ == "__main__":
    sys.exit(main())
