"""A 20-run sweep of a 1 s script on ``local`` with 2 slots against ``xargs -P2`` running the
same 20 commands with the same interpreter (``sys.executable``). The goal (issue 11) is a sweep
within 1.15x of xargs.

    python3 benchmarks/bench_sweep.py [--runs 20] [--seconds 1.0] [--rounds 3]

Each round times, end to end, ``aml experiment submit -c local sleep.py --sweep i=1,...,20``
(a new ``aml`` process, as typed; it returns when the parent is Completed) and
``seq 20 | xargs -P2 -I{} python sleep.py --i {}``, interleaved; prints the medians and the
ratio and writes them into benchmarks/RESULTS-sweep.md. Not a test.
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
from aml_magic.domain.history import RunStore  # noqa: E402
from benchmarks._report import write_results  # noqa: E402

GOAL = 1.15
RESULTS = Path(__file__).resolve().parent / "RESULTS-sweep.md"


def timed(command: list[str], *, cwd: Path, env: dict[str, str], stdin: str = "") -> float:
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=cwd, env=env, input=stdin, capture_output=True,
                          text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{command[:6]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return elapsed


def check_sweep(project: Path, runs: int) -> None:
    """The newest sweep really ran ``runs`` children, never more than 2 at once."""
    with RunStore(project) as store:
        parent = next(r for r in store.list_runs(limit=runs + 1) if r.kind == "sweep")
        children = [store.get(c["run_id"]) for c in parent.config_snapshot["sweep"]["children"]]
    assert parent.status.value == "Completed" and len(children) == runs
    events = sorted([(c.started_at, 1) for c in children] + [(c.ended_at, -1) for c in children],
                    key=lambda e: (e[0], e[1]))
    level = most = 0
    for _, step in events:
        level += step
        most = max(most, level)
    assert most == 2, f"{most} children overlapped"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    values = ",".join(str(i) for i in range(1, args.runs + 1))
    sweep_times: list[float] = []
    xargs_times: list[float] = []
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="aml-bench-sweep-") as tmp:
        project = init_project(Path(tmp) / "proj")
        (project / "sleep.py").write_text(
            f"import sys, time\ntime.sleep({args.seconds})\nprint('done', sys.argv[1:])\n")
        with open(project / "aml_config" / "local.compute", "a") as fh:
            fh.write("maxConcurrentRuns: 2\n")
        sweep = [sys.executable, "-m", "aml_magic", "experiment", "submit", "-c", "local",
                 "sleep.py", "--sweep", f"i={values}"]
        xargs = ["xargs", "-P2", "-I{}", sys.executable, "sleep.py", "--i", "{}"]
        lines = "".join(f"{i}\n" for i in range(1, args.runs + 1))
        for _ in range(args.rounds):
            sweep_times.append(timed(sweep, cwd=project, env=env))
            check_sweep(project, args.runs)
            xargs_times.append(timed(xargs, cwd=project, env=env, stdin=lines))
    load_after = os.getloadavg()[0]
    sweep_median, xargs_median = statistics.median(sweep_times), statistics.median(xargs_times)
    ratio = sweep_median / xargs_median
    verdict = "ok" if ratio <= GOAL else "over the goal"
    table = ("| measurement | median (s) | runs (s) |\n|---|---:|---|\n"
             f"| xargs -P2, {args.runs} x {args.seconds:g} s script | {xargs_median:.2f} | "
             + ", ".join(f"{t:.2f}" for t in xargs_times) + " |\n"
             f"| aml experiment submit --sweep ({args.runs} points, maxConcurrentRuns 2) | "
             f"{sweep_median:.2f} | " + ", ".join(f"{t:.2f}" for t in sweep_times) + " |\n"
             f"| ratio sweep / xargs | {ratio:.3f}x | goal <= {GOAL}x: {verdict} |")
    notes = (f"`python3 benchmarks/bench_sweep.py --runs {args.runs} --seconds {args.seconds:g} "
             f"--rounds {args.rounds}`; both sides use {sys.executable}; the sweep is timed end "
             "to end (a new `aml` process that records the parent and 20 queued children, "
             "starts the driver and streams until the parent is Completed); each sweep was "
             "checked to have run all children, never more than 2 at once. Load average "
             f"(1 min) before/after: {load_before:.1f}/{load_after:.1f}.")
    print(table)
    print(notes)
    write_results("sweep (issue 11): 20 x 1 s on local, 2 slots, against xargs -P2", table,
                  notes=notes, path=RESULTS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
