"""The local target end to end, against the real machine: detached agent, history, CLI."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from aml_magic import Workspace
from aml_magic.history.status import RunStatus

AML = [sys.executable, "-m", "aml_magic"]


def write(root: Path, name: str, body: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body))


def aml(*args: str, cwd: Path, check: bool = True, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run([*AML, *args], cwd=cwd, capture_output=True, text=True, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"aml {args} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


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


def test_exit_code_and_failure_reason(project: Path) -> None:
    write(project, "fail.py", "import sys; print('bye'); sys.exit(3)\n")
    run = Workspace(project).submit("local", "fail.py")
    assert run.wait(timeout=30) is RunStatus.FAILED
    assert run.record.exit_code == 3
    assert "3" in (run.record.reason or "")


def test_run_survives_sigkill_of_the_submitting_process(project: Path) -> None:
    # Given a script printing 50 numbered lines over ~1.5 s
    write(project, "slow.py", """
        import time
        for i in range(50):
            print(f"line {i}", flush=True)
            time.sleep(0.03)
    """)
    # When a separate process submits it and is SIGKILLed right away
    code = ("import sys; from aml_magic import Workspace; "
            "r = Workspace(sys.argv[1]).submit('local', 'slow.py'); print(r.id, flush=True); "
            "import time; time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(project)], stdout=subprocess.PIPE,
                            text=True)
    run_id = proc.stdout.readline().strip()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # Then `aml run show` (a new process) finds it complete, with every line
    deadline = time.time() + 30
    while time.time() < deadline:
        shown = json.loads(aml("run", "show", run_id, "-o", "json", cwd=project).stdout)
        if shown["status"] == "Completed":
            break
        time.sleep(0.2)
    assert shown["status"] == "Completed"
    log = Path(shown["log"]).read_text().splitlines()
    assert log == [f"line {i}" for i in range(50)]


def test_sigkilled_agent_makes_the_run_failed_within_two_heartbeats(project: Path) -> None:
    write(project, "sleeper.py", "import time; print('start', flush=True); time.sleep(30)\n")
    ws = Workspace(project)
    run = ws.submit("local", "sleeper.py")
    _wait_for_log(run, "start")
    record = run.refresh()
    agent_pid = record.target_state["agent_pid"]
    heartbeat = record.target_state["heartbeat_seconds"]
    # When the agent is SIGKILLed
    os.kill(agent_pid, signal.SIGKILL)
    killed_at = time.time()
    status = run.wait(timeout=10, poll=0.05)
    # Then the run is Failed, with a reason, within two heartbeats
    assert status is RunStatus.FAILED
    assert time.time() - killed_at <= 2 * heartbeat
    assert "agent" in (run.record.reason or "")
    # and the script it left behind was stopped
    child = json.loads((run.folder / "status.json").read_text())["child_pid"]
    deadline = time.time() + 2
    while time.time() < deadline and _alive(child):
        time.sleep(0.05)
    assert not _alive(child)


def test_cancel_stops_script_and_children_within_two_seconds(project: Path) -> None:
    write(project, "spawner.py", """
        import subprocess, time
        child = subprocess.Popen(["sleep", "60"])
        open("child.pid", "w").write(str(child.pid))
        print("spawned", flush=True)
        time.sleep(60)
    """)
    run = Workspace(project).submit("local", "spawner.py")
    _wait_for_log(run, "spawned")
    child_pid = int((run.folder / "work" / "child.pid").read_text())
    start = time.monotonic()
    status = run.cancel()
    deadline = start + 2
    while time.monotonic() < deadline and _alive(child_pid):
        time.sleep(0.02)
    assert status is RunStatus.CANCELED
    assert not _alive(child_pid)
    assert time.monotonic() - start <= 2.0


WEIRD = ["it's \"quoted\"", "$(touch /tmp/aml_pwned)", "`id`", "line1\nline2", "héllo ✓ 日本",
         "a b\tc", "--flag=x;rm -rf /", ""]


def test_arguments_and_environment_reach_the_script_byte_for_byte(project: Path) -> None:
    rc = project / "aml_config" / "local.runconfig"
    from aml_magic.config import load_runconfig, write_runconfig
    cfg = load_runconfig(rc)
    cfg.environment_variables = {f"V{i}": v for i, v in enumerate(WEIRD)}
    write_runconfig(cfg, rc)
    write(project, "echo.py", """
        import json, os, sys
        env = {k: os.environ[k] for k in os.environ if k.startswith("V") and k[1:].isdigit()}
        open("outputs/seen.json", "w", encoding="utf-8").write(json.dumps({"argv": sys.argv[1:], "env": env}))
    """)
    (project / "outputs").mkdir(exist_ok=True)
    run = Workspace(project).submit("local", "echo.py", WEIRD)
    assert run.wait(timeout=30) is RunStatus.COMPLETED
    seen = json.loads((run.outputs_folder / "seen.json").read_text(encoding="utf-8"))
    assert seen["argv"] == WEIRD
    assert seen["env"] == {f"V{i}": v for i, v in enumerate(WEIRD)}
    assert not Path("/tmp/aml_pwned").exists()


def test_outputs_symlink_pointing_outside_is_not_followed(project: Path, tmp_path: Path) -> None:
    secret = tmp_path / "outside.txt"
    secret.write_text("do not copy")
    write(project, "links.py", f"""
        import os
        os.makedirs("outputs/sub", exist_ok=True)
        open("outputs/sub/real.txt", "w").write("real")
        os.symlink({str(secret)!r}, "outputs/escape.txt")
        os.symlink("/etc", "outputs/etcdir")
    """)
    run = Workspace(project).submit("local", "links.py")
    assert run.wait(timeout=30) is RunStatus.COMPLETED
    assert {a.path for a in run.outputs()} == {"sub/real.txt"}
    assert not (run.outputs_folder / "escape.txt").exists()
    assert not (run.outputs_folder / "etcdir").exists()


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
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert "locked" not in err
    ids = {line for out, _ in outs for line in out.split()}
    assert len(ids) == 100
    ws = Workspace(project)
    runs = ws.runs(limit=1000)
    assert {r.id for r in runs} == ids
    for r in runs:
        assert r.wait(timeout=60) is RunStatus.COMPLETED


def test_cli_submit_wait_streams_log_and_returns_exit_code(project: Path) -> None:
    write(project, "cli.py", "import sys; print('from cli', sys.argv[1]); sys.exit(int(sys.argv[1]))\n")
    ok = aml("experiment", "submit", "-c", "local", "cli.py", "0", "--wait", cwd=project)
    assert "from cli 0" in ok.stdout
    bad = aml("experiment", "submit", "-c", "local", "cli.py", "4", "--wait", cwd=project,
              check=False)
    assert bad.returncode == 4 and "from cli 4" in bad.stdout
    listed = json.loads(aml("run", "list", "-o", "json", cwd=project).stdout)
    assert [r["status"] for r in listed[:2]] == ["Failed", "Completed"]
    failed = json.loads(aml("run", "list", "--status", "failed", "-o", "json", cwd=project).stdout)
    assert len(failed) == 1 and failed[0]["exit_code"] == 4


@pytest.mark.parametrize("args, needle", [
    (["experiment", "submit", "-c", "nope", "x.py"], "existing: docker, local"),
    (["experiment", "submit", "x.py"], "-c"),
    (["run", "show", "doesnotexist_1"], "aml run list"),
    (["computetarget", "show", "-n", "ghost"], "ghost"),
    (["experiment", "submit", "-c", "local", "missing.py"], "missing.py"),
    (["run", "list", "--status", "Sleeping"], "Sleeping"),
])
def test_cli_expected_errors_are_one_line_exit_2(project: Path, args: list[str],
                                                 needle: str) -> None:
    proc = aml(*args, cwd=project, check=False)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert needle in proc.stderr


def test_cli_outside_a_project_says_how_to_create_one(tmp_path: Path) -> None:
    proc = aml("run", "list", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "aml init" in proc.stderr


def test_pyspark_on_local_without_spark_submit_is_a_clear_error(project: Path) -> None:
    rc = project / "aml_config" / "local.runconfig"
    from aml_magic.config import load_runconfig, write_runconfig
    cfg = load_runconfig(rc)
    cfg.framework = "PySpark"
    write_runconfig(cfg, rc)
    (project / "aml_config" / "local.compute").write_text(
        "type: local\nsparkSubmitLocation: /nonexistent/spark-submit\n")
    write(project, "s.py", "print(1)\n")
    proc = aml("experiment", "submit", "-c", "local", "s.py", cwd=project, check=False,
               timeout=20)
    assert proc.returncode == 2 and "spark-submit" in proc.stderr


def test_native_shared_directory_is_set_with_trailing_slash(project: Path, tmp_path: Path) -> None:
    share = tmp_path / "share"
    (project / "aml_config" / "local.compute").write_text(
        f"type: local\nnativeSharedDirectory: {share}\n")
    write(project, "share.py", """
        import os
        d = os.environ["AZUREML_NATIVE_SHARE_DIRECTORY"]
        open(d + "kept.txt", "w").write("persist")
        print(d)
    """)
    run = Workspace(project).submit("local", "share.py")
    assert run.wait(timeout=30) is RunStatus.COMPLETED
    assert run.log_text()[0].strip() == str(share) + "/"
    assert (share / "kept.txt").read_text() == "persist"


def test_snapshot_isolates_the_run_from_later_edits(project: Path) -> None:
    write(project, "data.txt", "v1")
    write(project, "read.py", "import time; time.sleep(0.5); print(open('data.txt').read())\n")
    run = Workspace(project).submit("local", "read.py")
    (project / "data.txt").write_text("v2")
    assert run.wait(timeout=30) is RunStatus.COMPLETED
    assert run.log_text()[0].strip() == "v1"


def _wait_for_log(run, needle: str, timeout: float = 20) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        run.refresh()
        if needle in run.log_text()[0]:
            return
        time.sleep(0.05)
    raise AssertionError(f"{needle!r} not in the log of {run.id}: {run.log_text()[0]!r}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_broken_unrelated_file_does_not_block_attach_or_submit(project: Path) -> None:
    # Given a malformed run configuration beside the good ones
    (project / "aml_config" / "bad.runconfig").write_text("Target: local\nArgumentVector: 5\n")
    write(project, "ok.py", "print('fine')\n")
    # When another target is attached and the local one is used
    aml("computetarget", "attach", "docker", "-n", "d2", cwd=project)
    done = aml("experiment", "submit", "-c", "local", "ok.py", "--wait", cwd=project)
    # Then both work, and listing names the broken file with its line
    assert "fine" in done.stdout
    listed = aml("runconfiguration", "list", cwd=project, check=False)
    assert listed.returncode == 2 and "bad.runconfig:2" in listed.stderr
    aml("computetarget", "detach", "-n", "d2", cwd=project)
    assert not (project / "aml_config" / "d2.compute").exists()
    assert not (project / "aml_config" / "d2.runconfig").exists()


def test_ignored_and_unknown_keys_are_reported_once_not_dropped(project: Path) -> None:
    (project / "aml_config" / "w.runconfig").write_text(
        "Target: local\nFramework: Python\nUseSampling: true\nFooBar: 1\n")
    write(project, "t.py", "print(1)\n")
    proc = aml("experiment", "submit", "-c", "w", "t.py", "--wait", cwd=project)
    assert proc.stderr.count("UseSampling") == 1
    assert "w.runconfig:4: unknown key 'FooBar'" in proc.stderr
    assert "FooBar: 1" in (project / "aml_config" / "w.runconfig").read_text()


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
    monkeypatch.setattr("aml_magic.targets.placement_remote.RemotePlacement.connect_timeout", 3.0)
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
    from aml_magic.config import load_runconfig, write_runconfig
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


def test_cli_secret_set_prints_a_reference_that_runs_resolve(project: Path) -> None:
    proc = subprocess.run([*AML, "secret", "set", "MY_TOKEN", "--stdin"], cwd=project,
                          input="tok-123456\n", capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    ref = proc.stdout.strip()
    assert ref.startswith("aml-secret:") and "tok-123456" not in proc.stdout + proc.stderr
    from aml_magic.config import load_runconfig, write_runconfig
    rc_path = project / "aml_config" / "local.runconfig"
    cfg = load_runconfig(rc_path)
    cfg.environment_variables = {"MY_TOKEN": ref}
    write_runconfig(cfg, rc_path)
    write(project, "use.py", "import os; print(len(os.environ['MY_TOKEN']))\n")
    done = aml("experiment", "submit", "-c", "local", "use.py", "--wait", cwd=project)
    assert done.stdout.strip() == "10"
    assert "tok-123456" not in rc_path.read_text()
