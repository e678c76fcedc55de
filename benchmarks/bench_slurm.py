"""slurm: submit -> RUNNING vs ``ssh LOGIN sbatch --wrap`` of the same script, a 100-point
sweep's submit vs one hand-written ``sbatch --array``, and the squeue calls of polling 100
active runs. A real Slurm cluster (munged, slurmctld, one slurmd: tests/fixtures/slurm.py) and a
real sshd on loopback (root).

    python3 benchmarks/bench_slurm.py [--rounds 5] [--write]

Contract (issue 19): submit -> RUNNING within 1.2x of ``ssh LOGIN sbatch --parsable --wrap
'python3 sleep.py'`` then ``ssh LOGIN squeue -j ID`` until RUNNING (OpenSSH client, same key,
pinned known_hosts, both polled every 50 ms); the 100-point sweep submitted (one array in
Slurm) within 1.5x of ``ssh LOGIN sbatch --array=0-99 --wrap ...``; one reconcile pass over 100
active runs = 1 squeue. Interleaved rounds; ``--write`` replaces the section in
benchmarks/RESULTS-slurm.md.
"""
from __future__ import annotations

import argparse
import os
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
from tests.fixtures.slurm import give_user_slurm_conf, start_slurm  # noqa: E402
from tests.fixtures.sshd import start_sshd  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "RESULTS-slurm.md"
SLEEP = "import time\nprint('up', flush=True)\ntime.sleep(600)\n"
POLL = 0.05


def until(condition: Callable[[], Any], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(POLL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    from aml_magic import Workspace
    from aml_magic.domain.config import init_project
    from aml_magic.domain.history.status import RunStatus
    from aml_magic.service.sweep import submit_sweep

    work = Path(tempfile.mkdtemp(prefix="aml-bench-slurm-"))
    work.chmod(0o755)                  # munged (user munge) walks down to its socket
    (work / "sshd").mkdir()
    (work / "slurm").mkdir()
    server = start_sshd(work / "sshd")
    cluster = start_slurm(work / "slurm")
    give_user_slurm_conf(server, cluster.conf)
    try:
        project = work / "proj"
        init_project(project)
        (project / "sleep.py").write_text(SLEEP)
        ws = Workspace(project)
        ws.attach("slurm", "hpc", address=f"{server.host}:{server.port}",
                  username=server.username, key_file=str(server.client_key_path),
                  trust_new_host_key=True)
        home = Path(server.home)
        shutil.copy(project / "sleep.py", home / "sleep.py")
        subprocess.run(["chmod", "a+r", str(home / "sleep.py")], check=True)
        known = work / "known_hosts"
        pub = server._original_host_key.with_suffix(".pub").read_text().split()
        known.write_text(f"[{server.host}]:{server.port} {pub[0]} {pub[1]}\n")
        ssh = ["ssh", "-p", str(server.port), "-i", str(server.client_key_path),
               "-o", f"UserKnownHostsFile={known}", "-o", "BatchMode=yes",
               "-o", "StrictHostKeyChecking=yes", f"{server.username}@{server.host}"]

        def login(command: str) -> str:
            return subprocess.run([*ssh, command], capture_output=True, text=True,
                                  check=True).stdout.strip()

        def scancel_all() -> None:
            cluster.run("scancel", "-u", server.username)
            until(lambda: not cluster.run("squeue", "-h", "-u", server.username).stdout.strip())

        def aml_to_running() -> float:
            start = time.perf_counter()
            run = ws.submit("hpc", "sleep.py")
            until(lambda: run.refresh().status is RunStatus.RUNNING)
            took = time.perf_counter() - start
            ws.cancel(run.id)
            run.wait(60)
            return took

        def bare_to_running() -> float:
            start = time.perf_counter()
            job = login("sbatch --parsable -o /dev/null --wrap 'python3 sleep.py'")
            until(lambda: login(f"squeue -h -j {job} -o %T") == "RUNNING")
            took = time.perf_counter() - start
            login(f"scancel {job}")
            return took

        def aml_sweep() -> float:
            start = time.perf_counter()
            parent = submit_sweep(ws, "hpc", "sleep.py", [],
                                  ["x=" + ",".join(str(i) for i in range(100))],
                                  max_concurrent=2)
            until(lambda: ws.store.get(parent.id).target_state.slurm_job_id)
            took = time.perf_counter() - start
            ws.cancel(parent.id)
            scancel_all()
            return took

        def bare_sweep() -> float:
            start = time.perf_counter()
            login("sbatch --parsable --array=0-99%2 -o /dev/null --wrap 'python3 sleep.py'")
            took = time.perf_counter() - start
            scancel_all()
            return took

        aml_to_running()                        # warm: first sync, connection, agent
        bare_to_running()
        running, by_hand, sweep, sweep_by_hand = [], [], [], []
        for _ in range(args.rounds):
            running.append(aml_to_running())
            by_hand.append(bare_to_running())
            sweep.append(aml_sweep())
            sweep_by_hand.append(bare_sweep())
        # polling: 100 active (pending) runs, one reconcile pass
        parent = submit_sweep(ws, "hpc", "sleep.py", [],
                              ["x=" + ",".join(str(i) for i in range(100))])
        until(lambda: ws.store.get(parent.id).target_state.slurm_job_id)
        target: Any = ws.target_for(ws.config.compute("hpc"))
        target.launch.view.forget()
        before = dict(target.launch.view.calls)
        start = time.perf_counter()
        reconciled = ws.reconcile_active()
        poll_seconds = time.perf_counter() - start
        calls = {k: target.launch.view.calls[k] - before[k] for k in before}
        ws.cancel(parent.id)
        scancel_all()
        ws.close()
    finally:
        cluster.stop()
        server.stop()
        server.remove_user()
        shutil.rmtree(cluster.hidden, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    med = statistics.median
    table = "\n".join([
        "| measure | median | min | max |",
        "|---|---|---|---|",
        f"| slurm submit -> RUNNING (Workspace.submit, Run.refresh until Running) "
        f"| {med(running):.3f} s | {min(running):.3f} s | {max(running):.3f} s |",
        f"| `ssh LOGIN sbatch --wrap`, then `ssh LOGIN squeue -j` until RUNNING "
        f"| {med(by_hand):.3f} s | {min(by_hand):.3f} s | {max(by_hand):.3f} s |",
        f"| ratio (contract <= 1.2x) | {med(running) / med(by_hand):.2f}x | | |",
        f"| 100-point sweep submitted (submit_sweep until the array is in Slurm) "
        f"| {med(sweep):.3f} s | {min(sweep):.3f} s | {max(sweep):.3f} s |",
        f"| `ssh LOGIN sbatch --array=0-99%2 --wrap ...` | {med(sweep_by_hand):.3f} s "
        f"| {min(sweep_by_hand):.3f} s | {max(sweep_by_hand):.3f} s |",
        f"| ratio (contract <= 1.5x) | {med(sweep) / med(sweep_by_hand):.2f}x | | |",
        f"| one reconcile pass over {reconciled} active runs | {poll_seconds:.3f} s | | |",
        f"| scheduler calls in that pass | squeue {calls['squeue']}, sacct {calls['sacct']}, "
        f"scontrol {calls['scontrol']} | | |",
    ])
    load = " / ".join(f"{value:.2f}" for value in os.getloadavg())
    notes = (f"{args.rounds} interleaved rounds; sshd, slurmctld and one slurmd (2 CPUs) on "
             "loopback of this machine, shared with other work (load average at the end "
             f"{load}): medians are the figure to read. Both sides poll every 50 ms.")
    print(table)
    print(notes)
    if args.write:
        write_results("slurm", table, notes=notes, path=RESULTS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
