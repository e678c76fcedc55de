"""Docker environment preparation: cached prepare, and cold builds with uv vs pip.

Contracts (issue 5): a cached prepare (identity + lookup) under 1 s; a cold build of the same
specification in the same base image at least 2x faster with uv than with pip.

Run: python3 benchmarks/bench_docker_prepare.py [--repeat N] [--write]
Uses DOCKER_HOST when set (the engine must hold aml-magic/base:bookworm); otherwise starts the
test suite's private engine (root, dockerd and debootstrap needed). Prints a table and one JSON
object; ``--write`` replaces the section in benchmarks/RESULTS-docker.md.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aml_magic.domain.environment import environment_identity, plan_environment  # noqa: E402
from benchmarks._report import machine_line, write_results  # noqa: E402
from aml_magic.targets.container.images import DockerEnvironmentBuilder  # noqa: E402

BASE = "aml-magic/base:bookworm"
RESULTS_DOCKER = Path(__file__).resolve().parent / "RESULTS-docker.md"


@dataclass
class Conda:
    name: str = "bench"
    channels: list[str] = field(default_factory=list)
    conda: list[str] = field(default_factory=lambda: ["python=3", "six=1.16"])
    pip: list[str] = field(default_factory=lambda: ["requests==2.32.3", "tomli==2.0.1"])
    path: str | None = None


@contextlib.contextmanager
def engine_client() -> Iterator[Any]:
    if os.environ.get("DOCKER_HOST"):
        import docker
        client = docker.from_env()
        yield client
        client.close()
        return
    from tests.fixtures.dockerd import running_engine
    with running_engine() as engine:
        os.environ["DOCKER_HOST"] = engine.host     # for the docker command the builder runs
        yield engine.client()


def forget(builder: DockerEnvironmentBuilder, identity: str) -> None:
    import docker
    with contextlib.suppress(docker.errors.ImageNotFound):
        builder.client.images.remove(builder.image_tag(identity), force=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="cold builds per installer")
    parser.add_argument("--lookups", type=int, default=20, help="cached prepares to time")
    parser.add_argument("--write", action="store_true", help="update RESULTS-docker.md")
    args = parser.parse_args()
    spec = Conda()
    with engine_client() as client:
        from aml_magic.targets.container.engine import DockerCli
        from aml_magic.transports.local import LocalTransport
        builder = DockerEnvironmentBuilder(DockerCli(LocalTransport()),
                                           network="host")
        builder.client = client  # type: ignore[attr-defined]  # for forget()
        plan = plan_environment(spec, base_image=BASE, framework="Python")
        cold: dict[str, list[float]] = {"uv": [], "pip": []}
        for _ in range(args.repeat):
            for installer in ("uv", "pip"):          # interleaved: same conditions for both
                forget(builder, plan.identity)
                started = time.perf_counter()
                builder.build(plan, BASE, installer=installer, use_cache=False)
                cold[installer].append(time.perf_counter() - started)
        cached: list[float] = []
        for _ in range(args.lookups):
            started = time.perf_counter()
            identity = environment_identity(spec, base_image=BASE, framework="Python")
            assert builder.find(identity) is not None
            cached.append(time.perf_counter() - started)
    uv, pip = statistics.median(cold["uv"]), statistics.median(cold["pip"])
    result = {
        "cached_prepare_ms_median": round(statistics.median(cached) * 1000, 2),
        "cold_uv_s_median": round(uv, 2), "cold_pip_s_median": round(pip, 2),
        "pip_over_uv_ratio": round(pip / uv, 2),
        "targets": {"cached_prepare_ms": "< 1000", "pip_over_uv_ratio": ">= 2"},
    }
    result["ok"] = result["cached_prepare_ms_median"] < 1000 and result["pip_over_uv_ratio"] >= 2
    table = "\n".join([
        "| measure | median | target |", "|---|---|---|",
        f"| cached prepare (identity + image lookup) | {result['cached_prepare_ms_median']} ms "
        "| < 1000 ms |",
        f"| cold prepare, uv (no build cache) | {result['cold_uv_s_median']} s | - |",
        f"| cold prepare, pip (no build cache) | {result['cold_pip_s_median']} s | - |",
        f"| pip / uv | {result['pip_over_uv_ratio']}x | >= 2x |",
    ])
    print(machine_line())
    print(table)
    print(json.dumps(result))
    if args.write:
        write_results("docker target: prepare", table, path=RESULTS_DOCKER,
                      notes=f"{args.repeat} cold builds per installer (interleaved, no build "
                            f"cache, packages from PyPI: {', '.join(spec.pip)}, six), "
                            f"{args.lookups} cached lookups; medians.")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
