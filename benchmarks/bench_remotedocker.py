"""remotedocker: submit-to-``Completed`` of a trivial script vs ``ssh VM docker run --rm IMAGE
python trivial.py``, and a cached remote prepare. Real sshd + real dockerd on loopback (root).

    python3 benchmarks/bench_remotedocker.py [--rounds 10] [--write]

Contract (issue 8): a tracked remotedocker run within 1.5x of the bare ``ssh ... docker run``
(OpenSSH client with the same key and a pinned known_hosts; same image, network and engine),
interleaved so machine noise hits both alike; a cached prepare under 0.5 s. The aml side is
``Workspace.submit`` + ``Run.wait`` end to end (snapshot, history, content-addressed sync,
``docker create`` + ``start`` on the VM, polling, outputs, container removal). The SSH user gets
the engine as in tests/targets/test_remotedocker_target.py (group-owned socket).
``--write`` replaces the section in benchmarks/RESULTS-remotedocker.md.
"""
from __future__ import annotations

import argparse
import grp
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

import tests.fixtures.sshd as sshd_fixture  # noqa: E402
from benchmarks._report import allow_host_network, write_results  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "RESULTS-remotedocker.md"
CONDA = "name: bench\ndependencies:\n  - python=3\n  - six=1.16\n  - pip:\n    - tomli==2.0.1\n"
GROUP = "aml-magic-docker"


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def give_engine(host: str, user: str) -> None:
    sock = host.removeprefix("unix://")
    subprocess.run(["groupadd", "-f", GROUP], check=True)
    os.chown(sock, 0, grp.getgrnam(GROUP).gr_gid)
    os.chmod(sock, 0o660)
    os.chmod(os.path.dirname(sock), 0o711)
    subprocess.run(["usermod", "-aG", GROUP, user], check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    sshd_fixture.TEST_USER = "amlbenchrd"          # not the suite's shared test user
    from aml_magic import Workspace
    from aml_magic.domain.config import init_project
    from aml_magic.domain.history.status import RunStatus
    from tests.fixtures.dockerd import running_engine

    work = Path(tempfile.mkdtemp(prefix="aml-bench-rd-"))
    (work / "sshd").mkdir()
    server = sshd_fixture.start_sshd(work / "sshd")
    try:
        with running_engine() as engine:
            give_engine(engine.host, server.username)
            project = work / "proj"
            init_project(project)
            (project / "aml_config" / "conda_dependencies.yml").write_text(CONDA)
            (project / "trivial.py").write_text("print('hello')\n")
            ws = Workspace(project)
            allow_host_network(project)
            ws.attach("remotedocker", "remotevm", address=f"{server.host}:{server.port}",
                      username=server.username, key_file=str(server.client_key_path),
                      trust_new_host_key=True, network_mode="host", docker_host=engine.host,
                      base_image=engine.base_image)
            built = ws.prepare("remotevm")
            image = f"aml-magic/env:{built.environment_hash}"
            home = Path(server.home)
            shutil.copy(project / "trivial.py", home / "trivial.py")
            known = work / "known_hosts"
            pub = server._original_host_key.with_suffix(".pub").read_text().split()
            known.write_text(f"[{server.host}]:{server.port} {pub[0]} {pub[1]}\n")
            ssh = ["ssh", "-p", str(server.port), "-i", str(server.client_key_path),
                   "-o", f"UserKnownHostsFile={known}", "-o", "BatchMode=yes",
                   "-o", "StrictHostKeyChecking=yes", f"{server.username}@{server.host}"]
            bare = [*ssh, f"docker -H {engine.host} run --rm --network host "
                          f"-v {home}/trivial.py:/t.py {image} python /t.py"]

            def aml_run() -> None:
                run = ws.submit("remotevm", "trivial.py")
                status = run.wait(timeout=120)
                assert status is RunStatus.COMPLETED, run.record.reason

            def bare_run() -> None:
                out = subprocess.run(bare, capture_output=True, check=True)
                assert out.stdout.strip() == b"hello", out

            aml_run()                               # warm: first sync, agent, connection
            bare_run()
            aml, ssh_docker = [], []
            for _ in range(args.rounds):
                aml.append(timed(aml_run))
                ssh_docker.append(timed(bare_run))
            fresh = [timed(lambda: Workspace(project).prepare("remotevm"))
                     for _ in range(args.rounds)]
            warm = [timed(lambda: ws.prepare("remotevm")) for _ in range(args.rounds)]
            ws.close()
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    med = statistics.median
    ratio = med(aml) / med(ssh_docker)
    table = "\n".join([
        "| measure | median | min | max |",
        "|---|---|---|---|",
        f"| remotedocker submit -> Completed (Workspace.submit + Run.wait) | {med(aml):.3f} s "
        f"| {min(aml):.3f} s | {max(aml):.3f} s |",
        f"| `ssh VM docker run --rm IMAGE python trivial.py` | {med(ssh_docker):.3f} s "
        f"| {min(ssh_docker):.3f} s | {max(ssh_docker):.3f} s |",
        f"| ratio (contract <= 1.5x) | {ratio:.2f}x | | |",
        f"| cached prepare, fresh Workspace (SSH connect + 1 command) | {med(fresh):.3f} s "
        f"| {min(fresh):.3f} s | {max(fresh):.3f} s |",
        f"| cached prepare, connection open (1 SSH command) | {med(warm):.3f} s "
        f"| {min(warm):.3f} s | {max(warm):.3f} s |",
    ])
    notes = (f"{args.rounds} interleaved rounds; sshd and dockerd on loopback of this machine "
             "(the machine is shared with other work: medians are the figure to read).")
    print(table)
    print(notes)
    if args.write:
        write_results("remotedocker", table, notes=notes, path=RESULTS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
