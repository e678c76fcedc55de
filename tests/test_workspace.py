"""The Python API (``Workspace``, ``Run``) end to end on the local target: history, logs,
metrics, outputs, concurrent submitters, background submits, secrets kept out of history."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from aml_magic import Workspace
from aml_magic.domain.history.status import RunStatus
from tests._project import write


def test_submit_completes_with_log_exit_code_and_metrics(project: Path) -> None:
    # Given a Workbench-style script that logs metrics and writes outputs
    write(project, "train.py", """
        import os, sys
        from azureml.logging import get_azureml_logger
        logger = get_azureml_logger()
        logger.log("Accuracy", 0.9)
        logger.log("Recall", [0.1, 0.5])
        os.makedirs("outputs/model/deep", exist_ok=True)
        open("outputs/model/deep/w.bin", "wb").write(b"x" * 10)
        open("outputs/summary.txt", "w").write("ok")
        print("hello", sys.argv[1:])
        print("warn", file=sys.stderr)
    """)
    # When it is submitted through the Python API and waited for
    run = Workspace(project).submit("local", "train.py", ["0.5"])
    status = run.wait(timeout=30)
    # Then it completed, with its log, metrics and outputs in history
    assert status is RunStatus.COMPLETED
    text, _ = run.log_text()
    assert "hello ['0.5']" in text and "warn" in text
    metrics = {m.name: m.value for m in run.metrics()}
    assert metrics == {"Accuracy": 0.9, "Recall": [0.1, 0.5]}
    outputs = {a.path: a.size for a in run.outputs()}
    assert outputs == {"model/deep/w.bin": 10, "summary.txt": 2}
    assert (run.outputs_folder / "model/deep/w.bin").read_bytes() == b"x" * 10
    assert run.record.exit_code == 0
    statuses = [t.status for t in Workspace(project).store.transitions(run.id)]
    assert statuses[0] is RunStatus.QUEUED and statuses[-1] is RunStatus.COMPLETED
    assert RunStatus.RUNNING in statuses


def test_four_processes_submitting_25_runs_each(project: Path) -> None:
    write(project, "noop.py", "print('ok')\n")
    code = textwrap.dedent("""
        import sys
        from aml_magic import Workspace
        ws = Workspace(sys.argv[1])
        ids = [ws.submit('local', 'noop.py').id for _ in range(25)]
        print('\\n'.join(ids))
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code, str(project)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    outs = [p.communicate(timeout=240) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert "locked" not in err
    ids = {line for out, _ in outs for line in out.split()}
    assert len(ids) == 100
    ws = Workspace(project)
    runs = ws.runs(limit=1000)
    assert {r.id for r in runs} == ids
    for r in runs:
        assert r.wait(timeout=60) is RunStatus.COMPLETED


def test_background_submit_returns_before_a_slow_target_answers(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket
    # Given a remote target whose server accepts connections but never speaks SSH
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    ws = Workspace(project)
    ref = ws.secrets.put("password", "slow-nobody", "pw")
    (project / "aml_config" / "slow.compute").write_text(
        f"type: remote\naddress: 127.0.0.1:{port}\nusername: nobody\npassword: {ref}\n"
        "hostKeyFingerprint: SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n")
    (project / "aml_config" / "slow.runconfig").write_text("Target: slow\nFramework: Python\n")
    write(project, "t.py", "print(1)\n")
    monkeypatch.setattr("aml_magic.targets.ssh.placement.RemotePlacement.connect_timeout", 3.0)
    try:
        # When submitted in the background (as %%aml_submit does)
        run = ws.submit("slow", "t.py", background=True)
        # Then the run is recorded and handed back while the target is still being reached
        assert run.record.status in (RunStatus.QUEUED, RunStatus.PREPARING)
        assert run.starting is not None and run.starting.is_alive()
        # and the failure lands in its history, with the reason
        run.starting.join(timeout=60)
        record = run.refresh()
        assert record.status is RunStatus.FAILED
        assert "127.0.0.1" in (record.reason or ""), record.reason
    finally:
        silent.close()
        ws.close()


def test_secret_environment_values_stay_out_of_history_and_logs(project: Path) -> None:
    # Given one secret as a store reference and one literal under a secret-looking name
    ws = Workspace(project)
    ref = ws.secrets.put("env", "token", "s3cr3t-from-store")
    from aml_magic.domain.config import load_runconfig, write_runconfig
    rc_path = project / "aml_config" / "local.runconfig"
    cfg = load_runconfig(rc_path)
    cfg.environment_variables = {"API_TOKEN": ref, "DB_PASSWORD": "literal-pa55word"}
    write_runconfig(cfg, rc_path)
    write(project, "leak.py", """
        import os
        print("token", os.environ["API_TOKEN"], "pw", os.environ["DB_PASSWORD"])
    """)
    # When the run prints both
    run = ws.submit("local", "leak.py")
    assert run.wait(timeout=30) is RunStatus.COMPLETED
    # Then the script saw the real values, but the shown log, the record and the database hold
    # masks or references only
    text, _ = run.log_text()
    assert "token ****** pw ******" in text
    assert run.record.environment == {"API_TOKEN": ref, "DB_PASSWORD": "******"}
    db = b"".join(p.read_bytes() for p in (project / ".aml").glob("history.db*"))
    assert b"s3cr3t-from-store" not in db and b"literal-pa55word" not in db
