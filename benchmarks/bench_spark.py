"""cluster: submit-to-``Completed`` of a trivial PySpark job vs the same ``spark-submit`` run by
hand over ``ssh``, and a cached ``prepare``. A real Spark standalone cluster (master + two
workers, tests/fixtures/spark.py) and a real sshd on loopback (root).

    python3 benchmarks/bench_spark.py [--rounds 5] [--write]

Contract (issue 9): a tracked cluster run within 1.2x of ``ssh HEAD spark-submit --master M
... trivial.py`` (OpenSSH client, same key, pinned known_hosts; the same master, the same
``--conf`` values and the same prepared Python), interleaved so machine noise hits both alike;
a cached prepare under 1 s. The aml side is ``Workspace.submit`` + ``Run.wait`` end to end
(snapshot, history, the head-node probe, content-addressed sync, the detached agent, polling,
outputs). ``--write`` replaces the section in benchmarks/RESULTS-spark.md.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks._report import write_results  # noqa: E402
from tests.fixtures.spark import start_cluster  # noqa: E402
from tests.fixtures.sshd import start_sshd  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "RESULTS-spark.md"
CONF = {"spark.driver.host": "127.0.0.1", "spark.executor.memory": "512m",
        "spark.ui.showConsoleProgress": "false"}
JOB = ("from pyspark.sql import SparkSession\n"
       "spark = SparkSession.builder.getOrCreate()\n"
       "print('count', spark.sparkContext.parallelize(range(100), 2).count(), flush=True)\n"
       "spark.stop()\n")


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    from aml_magic import Workspace
    from aml_magic.domain.config import init_project
    from aml_magic.domain.history.status import RunStatus

    work = Path(tempfile.mkdtemp(prefix="aml-bench-spark-"))
    (work / "sshd").mkdir()
    server = start_sshd(work / "sshd")
    cluster = start_cluster(work / "spark")
    try:
        project = work / "proj"
        init_project(project)
        (project / "aml_config" / "conda_dependencies.yml").write_text(
            "name: bench\ndependencies:\n  - python=3\n")
        (project / "aml_config" / "spark_dependencies.yml").write_text(
            "configuration:\n" + "".join(f'  "{k}": "{v}"\n' for k, v in CONF.items())
            + "repositories: []\npackages: []\n")
        (project / "trivial.py").write_text(JOB)
        ws = Workspace(project)
        ws.attach("cluster", "spk", address=f"{server.host}:{server.port}",
                  username=server.username, key_file=str(server.client_key_path),
                  trust_new_host_key=True, spark_master=cluster.master_url,
                  spark_submit_location=cluster.spark_submit)
        prepared = timed(lambda: ws.prepare("spk"))
        python = f"{server.home}/.aml_magic/envs/{ws.prepare('spk').environment_hash}/bin/python"
        home = Path(server.home)
        shutil.copy(project / "trivial.py", home / "trivial.py")
        known = work / "known_hosts"
        pub = server._original_host_key.with_suffix(".pub").read_text().split()
        known.write_text(f"[{server.host}]:{server.port} {pub[0]} {pub[1]}\n")
        confs = " ".join(f"--conf {k}={v}" for k, v in CONF.items())
        bare = ["ssh", "-p", str(server.port), "-i", str(server.client_key_path),
                "-o", f"UserKnownHostsFile={known}", "-o", "BatchMode=yes",
                "-o", "StrictHostKeyChecking=yes", f"{server.username}@{server.host}",
                f"PYSPARK_PYTHON={python} {cluster.spark_submit} --master {cluster.master_url} "
                f"{confs} --conf spark.pyspark.python={python} trivial.py"]

        def aml_run() -> None:
            run = ws.submit("spk", "trivial.py")
            status = run.wait(timeout=300)
            assert status is RunStatus.COMPLETED, run.record.reason
            assert "count 100" in run.log_text()[0], run.log_text()[0][-3000:]

        def bare_run() -> None:
            out = subprocess.run(bare, capture_output=True, check=True)
            assert b"count 100" in out.stdout, out

        aml_run()                                  # warm: first sync, agent, connection
        bare_run()
        aml, by_hand = [], []
        for _ in range(args.rounds):
            aml.append(timed(aml_run))
            by_hand.append(timed(bare_run))
        fresh = [timed(lambda: Workspace(project).prepare("spk")) for _ in range(args.rounds)]
        warm = [timed(lambda: ws.prepare("spk")) for _ in range(args.rounds)]
        ws.close()
    finally:
        cluster.stop()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    med = statistics.median
    ratio = med(aml) / med(by_hand)
    table = "\n".join([
        "| measure | median | min | max |",
        "|---|---|---|---|",
        f"| cluster submit -> Completed (Workspace.submit + Run.wait) | {med(aml):.3f} s "
        f"| {min(aml):.3f} s | {max(aml):.3f} s |",
        f"| `ssh HEAD spark-submit --master M ... trivial.py` | {med(by_hand):.3f} s "
        f"| {min(by_hand):.3f} s | {max(by_hand):.3f} s |",
        f"| ratio (contract <= 1.2x) | {ratio:.2f}x | | |",
        f"| cached prepare, fresh Workspace (SSH connect + 1 read) | {med(fresh):.3f} s "
        f"| {min(fresh):.3f} s | {max(fresh):.3f} s |",
        f"| cached prepare, connection open (1 read) | {med(warm):.3f} s "
        f"| {min(warm):.3f} s | {max(warm):.3f} s |",
        f"| first prepare (venv of python3, nothing to install) | {prepared:.3f} s | | |",
        f"| cluster start (master + 2 workers ALIVE) | {cluster.setup_seconds:.3f} s | | |",
    ])
    notes = (f"{args.rounds} interleaved rounds; sshd, the Spark master and its two workers on "
             "loopback of this machine (shared with other work: medians are the figure to "
             "read).")
    print(table)
    print(notes)
    if args.write:
        write_results("cluster (Spark standalone)", table, notes=notes, path=RESULTS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
