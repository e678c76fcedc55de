"""Kernel start with and without aml_magic loaded at start (``aml kernel install``): seconds from
``start_kernel`` to the first ``kernel_info`` reply, and to the end of a first cell, for the
plain ``python3`` kernelspec, the generic ``aml-magic`` one and a project kernel
(``<project>_local``: the extension, its default target and the one-line banner), in the same
interleaved rounds. Kernelspecs go to a temporary Jupyter data folder.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_kernel_start.py --rounds 10
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def start_once(kernel: str, cwd: Path) -> tuple[float, float]:
    """(seconds to ready, seconds to the first cell's idle) for one kernel start."""
    from jupyter_client.manager import KernelManager
    started = time.perf_counter()
    km = KernelManager(kernel_name=kernel)
    km.start_kernel(cwd=str(cwd))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=120)
        ready = time.perf_counter() - started
        kc.execute_interactive("1 + 1", timeout=120, output_hook=lambda _msg: None)
        first_cell = time.perf_counter() - started
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return ready, first_cell


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aml-bench-kernels-") as tmp:
        os.environ["JUPYTER_DATA_DIR"] = str(Path(tmp) / "data")
        os.environ["IPYTHONDIR"] = str(Path(tmp) / "ipython")
        os.environ["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
        project = Path(tmp) / "Bench"
        from aml_magic.frontends.cli.main import main as aml
        assert aml(["init", str(project), "--no-kernels"]) == 0
        assert aml(["kernel", "install", "--project", str(project)]) == 0
        from ipykernel.kernelspec import install
        install(user=True, kernel_name="python3")     # the plain kernel, same interpreter
        kernels = ["python3", "aml-magic", "bench_local"]
        samples: dict[str, list[tuple[float, float]]] = {k: [] for k in kernels}
        for round_ in range(args.rounds):
            for kernel in kernels[round_ % 3:] + kernels[:round_ % 3]:   # order rotates
                samples[kernel].append(start_once(kernel, project))
    print(f"kernel start, median of {args.rounds} interleaved rounds ({sys.executable}):")
    print("| kernelspec | to kernel_info reply (s) | to first cell done (s) |")
    print("|---|---:|---:|")
    for kernel in kernels:
        ready = statistics.median(s[0] for s in samples[kernel])
        first = statistics.median(s[1] for s in samples[kernel])
        print(f"| {kernel} | {ready:.3f} | {first:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
