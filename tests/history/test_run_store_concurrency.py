"""Several processes and threads writing one history at once (kernels, CLI, server)."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from aml_magic.domain.history import Metric, RunRecord, RunStatus, RunStore

REPO_ROOT = Path(__file__).resolve().parents[2]

# Each worker waits for a start file, then opens the (not yet created) store, so the processes
# also race on creating the database and migrating its schema.
WORKER = r"""
import sys, time
from pathlib import Path
from aml_magic.domain.history import Artifact, Metric, RunRecord, RunStatus, RunStore
from aml_magic.domain.target_state import TargetState

project, worker, count, go = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
deadline = time.monotonic() + 30
while not go.exists():
    if time.monotonic() > deadline:
        sys.exit("start file never appeared")
    time.sleep(0.001)
store = RunStore(project)
for i in range(count):
    run_id = store.new_run_id(f"w{worker}")
    store.create_run(RunRecord(run_id=run_id, project=f"w{worker}", target=f"t{worker % 2}"))
    store.set_status(run_id, RunStatus.PREPARING)
    store.set_status(run_id, RunStatus.RUNNING)
    store.add_metrics(run_id, [Metric("loss", 1.0 / (s + 1)) for s in range(5)])
    store.add_metrics(run_id, [Metric("acc", [0.1, 0.2])])
    store.set_artifacts(run_id, [Artifact("model.bin", i, "0" * 64)])
    store.update(run_id, exit_code=0, target_state=TargetState.from_json({"worker": worker}))
    store.set_status(run_id, RunStatus.COMPLETED)
    store.list_runs(limit=10)
store.close()
print("ok")
"""


def test_four_processes_write_one_history_concurrently(tmp_path: Path):
    # Given four worker processes ready to start together on a fresh project
    project, go = tmp_path / "proj", tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, str(project), str(n), "25", str(go)],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for n in range(4)]
    # When they each create and complete 25 runs at the same time
    go.touch()
    results = [w.communicate(timeout=120) for w in workers]
    # Then every process succeeded and the history holds exactly their 100 complete runs
    for worker, (out, err) in zip(workers, results):
        assert worker.returncode == 0, err
        assert out.strip() == "ok" and err == ""
    with RunStore(project) as store:
        runs = store.list_runs(limit=1000)
        assert len(runs) == 100 == len({r.run_id for r in runs})
        assert {r.status for r in runs} == {RunStatus.COMPLETED}
        assert store.count_runs(target="t0") == 50
        for run in runs:
            assert [t.status for t in store.transitions(run.run_id)] == [
                RunStatus.QUEUED, RunStatus.PREPARING, RunStatus.RUNNING, RunStatus.COMPLETED]
            assert [m.step for m in store.metrics(run.run_id, "loss")] == [0, 1, 2, 3, 4]
            assert run.exit_code == 0 and run.started_at and run.ended_at
            assert len(store.artifacts(run.run_id)) == 1


def test_threads_share_one_store(tmp_path: Path):
    # Given one store used by eight threads
    store = RunStore(tmp_path)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(10):
                run_id = f"t{n}_{i}"
                store.create_run(RunRecord(run_id=run_id, project="p"))
                store.add_metrics(run_id, [Metric("x", i)])
                store.set_status(run_id, RunStatus.FAILED, reason="test")
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)
    # When they all write at once
    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Then nothing failed and every run is there
    assert errors == []
    assert store.count_runs(status=RunStatus.FAILED) == 80
    store.close()
