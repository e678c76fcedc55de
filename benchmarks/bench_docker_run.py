"""Docker target: submit-to-``Completed`` of a trivial script vs a bare ``docker run --rm``.

Contract (issue 5): a tracked run in a container within 1.5x of running the same script with
``docker run --rm IMAGE python script.py`` (through the SDK, same image, same mount, same
network), interleaved so that machine noise hits both sides alike. Also times a cached prepare
through ``Workspace.prepare`` (conda file, identity, one image lookup).

    python3 benchmarks/bench_docker_run.py [--rounds N] [--write]

Uses DOCKER_HOST when set (the engine must hold aml-magic/base:bookworm); otherwise starts the
test suite's private engine (root, dockerd and debootstrap needed). ``--write`` replaces the
section in benchmarks/RESULTS-docker.md.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._report import allow_host_network, machine_line, write_results  # noqa: E402

RESULTS_DOCKER = Path(__file__).resolve().parent / "RESULTS-docker.md"
CONDA = "name: bench\ndependencies:\n  - python=3\n  - six=1.16\n  - pip:\n    - tomli==2.0.1\n"


@contextlib.contextmanager
def engine_host() -> Iterator[str]:
    """DOCKER_HOST as given, else the test suite's private engine (started and stopped here)."""
    if os.environ.get("DOCKER_HOST"):
        yield os.environ["DOCKER_HOST"]
        return
    from tests.fixtures.dockerd import running_engine
    with running_engine() as engine:
        os.environ["DOCKER_HOST"] = engine.host
        try:
            yield engine.host
        finally:
            del os.environ["DOCKER_HOST"]


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--write", action="store_true", help="update RESULTS-docker.md")
    args = parser.parse_args()
    import docker

    from aml_magic import Workspace
    from aml_magic.domain.config import init_project

    with engine_host():
        root = Path(tempfile.mkdtemp(prefix="aml-bench-docker-")) / "bench"
        init_project(root)
        (root / "aml_config" / "conda_dependencies.yml").write_text(CONDA)
        (root / "trivial.py").write_text("x = 1\n")
        ws = Workspace(root)
        allow_host_network(root)
        import dataclasses
        compute = ws.config.compute("docker")       # the suite's engine has no bridge
        ws.config.write_compute(dataclasses.replace(compute, network_mode="host"))
        prepared = ws.prepare("docker")
        image = f"aml-magic/env:{prepared.environment_hash}"
        client = docker.from_env()

        def tracked() -> None:
            run = ws.submit("docker", "trivial.py")
            assert run.wait(timeout=120).value == "Completed", run.record.reason

        def bare() -> None:
            client.containers.run(image, ["python", "trivial.py"], remove=True,
                                  network_mode="host", working_dir="/w",
                                  volumes={str(root): {"bind": "/w", "mode": "rw"}})

        def bare_cli() -> None:
            subprocess.run(["docker", "run", "--rm", "--network", "host", "-w", "/w", "-v",
                            f"{root}:/w", image, "python", "trivial.py"], check=True,
                           capture_output=True)

        def cached_prepare() -> None:
            assert not ws.prepare("docker").built

        for fn in (tracked, bare, bare_cli):  # warm caches (image layers, page cache)
            fn()
        times: dict[str, list[float]] = {"tracked": [], "bare": [], "cli": [], "prepare": []}
        for _ in range(args.rounds):
            times["tracked"].append(timed(tracked))
            times["bare"].append(timed(bare))
            times["cli"].append(timed(bare_cli))
            times["prepare"].append(timed(cached_prepare))
        client.close()
        ws.close()
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["tracked"] / med["bare"]
    ok = ratio <= 1.5 and med["prepare"] < 1.0
    table = "\n".join([
        "| measure | median | baseline | ratio | target |",
        "|---|---|---|---|---|",
        f"| submit-to-Completed, trivial script, docker target | {med['tracked'] * 1000:.0f} ms"
        f" | {med['bare'] * 1000:.0f} ms (`docker run --rm IMAGE python trivial.py`, SDK) | "
        f"{ratio:.2f}x | <= 1.5x |",
        f"| same | {med['tracked'] * 1000:.0f} ms | {med['cli'] * 1000:.0f} ms (`docker run "
        f"--rm IMAGE python trivial.py`, docker command) | {med['tracked'] / med['cli']:.2f}x "
        "| <= 1.3x |",
        f"| cached prepare (`Workspace.prepare`) | {med['prepare'] * 1000:.1f} ms | - | - | "
        "< 1000 ms |",
    ])
    print(machine_line())
    print(table)
    print(f"rounds: {args.rounds}; ok: {ok}")
    if args.write:
        write_results("docker target: run", table, path=RESULTS_DOCKER,
                      notes=f"{args.rounds} interleaved rounds, medians. The tracked run "
                            "includes snapshot copy, run record, container create/attach/"
                            "start, the agent in the container, and reconciling log, status "
                            "and outputs into history; the bare run includes create, start, "
                            "wait, logs and remove.")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
