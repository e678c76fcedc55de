"""How the local target runs a script, against the real machine: detached agent, exit codes,
survival of the submitter, agent death, cancel, byte-exact arguments, outputs, snapshots."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from aml_magic import Workspace
from aml_magic.domain.history.status import RunStatus
from tests._project import aml, wait_for_log, write
from tests._wait import process_alive, wait_until


def test_exit_code_and_failure_reason(project: Path) -> None:
    write(project, "fail.py", "import sys; print('bye'); sys.exit(3)\n")
    run = Workspace(project).submit("local", "fail.py")
    assert run.wait(timeout=30) is RunStatus.FAILED
    assert run.record.exit_code == 3
    assert "3" in (run.record.reason or "")


def test_run_survives_sigkill_of_the_submitting_process(project: Path, tmp_path: Path) -> None:
    # Given a script that waits for a gate the test opens only after the submitter is dead,
    # then prints 50 numbered lines
    gate = tmp_path / "gate"
    write(project, "slow.py", f"""
        import os, time
        while not os.path.exists({str(gate)!r}):
            time.sleep(0.01)
        for i in range(50):
            print(f"line {{i}}", flush=True)
    """)
    # When a separate process submits it and is SIGKILLed right away
    code = ("import sys; from aml_magic import Workspace; "
            "r = Workspace(sys.argv[1]).submit('local', 'slow.py'); print(r.id, flush=True); "
            "import time; time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(project)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    gate.touch()

    # Then `aml run show` (a new process) finds it complete, with every line
    def completed() -> dict[str, Any] | None:
        shown: dict[str, Any] = json.loads(aml("run", "show", run_id, "-o", "json",
                                               cwd=project).stdout)
        return shown if shown["status"] == "Completed" else None
    shown = wait_until(completed, 60, f"aml run show {run_id} says Completed")
    log = Path(shown["log"]).read_text().splitlines()
    assert log == [f"line {i}" for i in range(50)]


def test_sigkilled_agent_makes_the_run_failed_by_its_stale_heartbeat(project: Path) -> None:
    write(project, "sleeper.py", "import time; print('start', flush=True); time.sleep(60)\n")
    ws = Workspace(project)
    run = ws.submit("local", "sleeper.py")
    wait_for_log(run, "start")
    agent_pid = run.refresh().target_state.agent_pid
    # When the agent is SIGKILLed
    os.kill(agent_pid, signal.SIGKILL)
    status = run.wait(timeout=60, poll=0.05)
    # Then the run is Failed (its heartbeat went stale), with a reason naming the agent
    assert status is RunStatus.FAILED
    assert "agent" in (run.record.reason or "")
    # and the script it left behind was stopped
    child = json.loads((run.folder / "status.json").read_text())["child_pid"]
    wait_until(lambda: not process_alive(child), 30, f"the orphaned script {child} was stopped")


def test_cancel_stops_script_and_children(project: Path) -> None:
    write(project, "spawner.py", """
        import subprocess, time
        child = subprocess.Popen(["sleep", "60"])
        open("child.pid", "w").write(str(child.pid))
        print("spawned", flush=True)
        time.sleep(60)
    """)
    run = Workspace(project).submit("local", "spawner.py")
    wait_for_log(run, "spawned")
    child_pid = int((run.folder / "work" / "child.pid").read_text())
    status = run.cancel()
    assert status is RunStatus.CANCELED
    wait_until(lambda: not process_alive(child_pid), 30, f"the script's child {child_pid} exited")


WEIRD = ["it's \"quoted\"", "$(touch /tmp/aml_pwned)", "`id`", "line1\nline2", "héllo ✓ 日本",
         "a b\tc", "--flag=x;rm -rf /", ""]


def test_arguments_and_environment_reach_the_script_byte_for_byte(project: Path) -> None:
    rc = project / "aml_config" / "local.runconfig"
    from aml_magic.domain.config import load_runconfig, write_runconfig
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


def test_snapshot_isolates_the_run_from_later_edits(project: Path, tmp_path: Path) -> None:
    # Given a script that reads data.txt only once the test has edited it (a gate file)
    gate = tmp_path / "gate"
    write(project, "data.txt", "v1")
    write(project, "read.py", f"""
        import os, time
        while not os.path.exists({str(gate)!r}):
            time.sleep(0.01)
        print(open('data.txt').read())
    """)
    run = Workspace(project).submit("local", "read.py")
    (project / "data.txt").write_text("v2")
    gate.touch()
    assert run.wait(timeout=30) is RunStatus.COMPLETED
    assert run.log_text()[0].strip() == "v1"
