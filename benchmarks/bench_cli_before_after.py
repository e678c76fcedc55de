"""`aml experiment submit --wait` of two checkouts against plain python, in the same interleaved
rounds (the order alternates each round), medians.

Each checkout needs its own .venv (e.g. a clone of the commit before a change, provisioned with
``AML_MAGIC_VENV=<clone>/.venv bash scripts/provision.sh``). For changes that move the CLI's
entry point, where ``bench_core.py --before`` cannot run the older checkout.

    .venv/bin/python benchmarks/bench_cli_before_after.py NEW_CHECKOUT OLD_CHECKOUT [ROUNDS]
"""
from __future__ import annotations

import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def main() -> int:
    sides = {"new": sys.argv[1], "old": sys.argv[2]}
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 41
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    roots: dict[str, Path] = {}
    for name, checkout in sides.items():
        compileall.compile_dir(checkout + "/aml_magic", quiet=1)
        root = Path(tempfile.mkdtemp()) / "bench"
        subprocess.run([checkout + "/.venv/bin/aml", "init", str(root)], check=True,
                       stdout=subprocess.DEVNULL, env=env)
        (root / "trivial.py").write_text("x = 1\n")
        roots[name] = root
    python = sides["new"] + "/.venv/bin/python"

    def plain() -> None:
        subprocess.run([python, "trivial.py"], cwd=roots["new"], check=True, env=env)

    def cli(name: str) -> Callable[[], None]:
        checkout = sides[name]

        def run() -> None:
            subprocess.run([checkout + "/.venv/bin/python", checkout + "/.venv/bin/aml",
                            "experiment", "submit", "-c", "local", "trivial.py", "--wait"],
                           cwd=roots[name], check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, env=env)
        return run

    fns: dict[str, Callable[[], None]] = {"python": plain, "new": cli("new"), "old": cli("old")}
    for fn in fns.values():               # warm caches twice
        fn()
        fn()
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for i in range(rounds):
        order = list(fns.items()) if i % 2 == 0 else list(reversed(fns.items()))
        for label, fn in order:
            start = time.perf_counter()
            fn()
            samples[label].append((time.perf_counter() - start) * 1000)
    base = statistics.median(samples["python"])
    for label, values in samples.items():
        median = statistics.median(values)
        print(f"{label}: median {median:.1f} ms  {median / base:.2f}x")
    print("load average (1, 5, 15 min):", os.getloadavg())
    return 0


if __name__ == "__main__":
    sys.exit(main())
