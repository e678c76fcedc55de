"""The real supervisor, started as targets start it: detached, logging, heartbeat, cancel."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests._wait import wait_until
from tests.agent.conftest import launch, process_gone, read_status, ship_agent, wait_status

SLEEPER = textwrap.dedent("""\
    import subprocess, sys, time
    child = subprocess.Popen(["sleep", "60"])
    open("pids.txt", "w").write("%d %d" % (__import__("os").getpid(), child.pid))
    print("started", flush=True)
    time.sleep(60)
""")


def test_completed_run_has_exact_merged_log(run_dir: Path, start) -> None:
    # Given a script writing 40 numbered lines, alternating stdout and stderr
    script = textwrap.dedent("""\
        import sys
        for i in range(40):
            (sys.stdout if i % 2 == 0 else sys.stderr).write("line %d\\n" % i)
    """)
    # When it is launched and finishes
    start(script)
    status = wait_status(run_dir)
    # Then the log holds exactly those lines, in order, and the status says Completed
    assert (run_dir / "log.txt").read_text().splitlines() == [f"line {i}" for i in range(40)]
    assert status["state"] == "Completed"
    assert status["exit_code"] == 0 and status["reason"] is None
    assert status["started"] <= status["ended"] <= status["heartbeat"]
    assert status["child_pgid"] == status["child_pid"] and status["run_id"] == "proj_1_abcd"


def test_exit_code_is_propagated(run_dir: Path, start) -> None:
    # Given a script that exits with code 3
    start("import sys; print('bye'); sys.exit(3)")
    # When it ends
    status = wait_status(run_dir)
    # Then the run failed with that code
    assert (status["state"], status["exit_code"], status["reason"]) == ("Failed", 3, "exit code 3")


def test_missing_command_is_recorded_as_failed(run_dir: Path) -> None:
    # Given a command that does not exist
    done = launch(run_dir, {"run_id": "r", "argv": ["no-such-command-xyz", "a"]})
    # When launched, Then launch succeeds and the run is recorded as Failed with a clear reason
    assert done.returncode == 0, done.stderr
    status = read_status(run_dir)
    assert status["state"] == "Failed"
    assert status["reason"] == "no-such-command-xyz: not found"
    assert "no-such-command-xyz: not found" in (run_dir / "log.txt").read_text()
    assert json.loads((run_dir / "outputs.json").read_text()) == []


def test_bad_spec_is_one_clear_line_and_recorded(run_dir: Path) -> None:
    # Given a launch spec that is not JSON / lacks argv
    for spec, words in ((b"{not json", "not a JSON object"), (b'{"run_id": "r"}', "'argv'")):
        # When launched
        done = launch(run_dir, spec)
        # Then it exits 2 with one readable line, no traceback, and a Failed status
        assert done.returncode == 2
        err = done.stderr.decode()
        assert words in err and "Traceback" not in err and err.count("\n") == 1
        status = read_status(run_dir)
        assert status["state"] == "Failed" and words in status["reason"]


def test_launch_returns_at_once_and_run_survives_its_caller(run_dir: Path, tmp_path: Path) -> None:
    # Given a caller (a shell in its own session) that launches a run, then lingers; the run
    # waits for a gate file the test creates, so it cannot finish before launch returns
    gate = tmp_path / "gate"
    (run_dir / "work" / "script.py").write_text(
        f"import os, time\nwhile not os.path.exists({str(gate)!r}):\n    time.sleep(0.01)\n"
        "print('finished')")
    supervisor = ship_agent(run_dir)
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"run_id": "r", "argv": [sys.executable, "script.py"]}))
    caller = subprocess.Popen(
        ["sh", "-c", '"$0" -S -E "$1" launch "$2" < "$3" && echo launched && sleep 30',
         sys.executable, str(supervisor), str(run_dir), str(spec)],
        stdout=subprocess.PIPE, start_new_session=True)
    # When launch has returned (the run is recorded as Running) and the caller's whole group is killed
    assert caller.stdout is not None
    assert b'"pid"' in caller.stdout.readline()
    assert caller.stdout.readline() == b"launched\n"
    assert read_status(run_dir)["state"] == "Running"
    os.killpg(caller.pid, signal.SIGKILL)
    caller.wait()
    gate.touch()
    # Then the run still completes, from its own session
    status = wait_status(run_dir)
    assert status["state"] == "Completed"
    assert (run_dir / "log.txt").read_text() == "finished\n"
    assert os.getsid(0) != status["pid"]


def test_killed_supervisor_stops_heartbeat_but_log_survives(run_dir: Path, start) -> None:
    # Given a running script that prints a line every 0.1 s, with a 0.2 s heartbeat
    answer = start("import time\nfor i in range(30):\n    print(i)\n    time.sleep(0.1)\n",
                   heartbeat_seconds=0.2)
    first = read_status(run_dir)["heartbeat"]
    wait_until(lambda: read_status(run_dir)["heartbeat"] > first, 10, "the heartbeat moved")
    # When the supervisor is SIGKILLed
    os.kill(answer["pid"], signal.SIGKILL)
    wait_until(lambda: process_gone(answer["pid"]), 10, "the supervisor died")
    stale = read_status(run_dir)
    size = (run_dir / "log.txt").stat().st_size
    # Then status.json stays Running with a heartbeat that no longer moves (a live supervisor
    # would refresh it every 0.2 s, so it never grows older than 3 beats)...
    beat = stale["heartbeat_seconds"]
    wait_until(lambda: time.time() - read_status(run_dir)["heartbeat"] > 3 * beat, 10,
               "the heartbeat went stale")
    now = read_status(run_dir)
    assert now == stale and now["state"] == "Running"
    # ...while the command, in its own group, keeps appending to the log
    try:
        wait_until(lambda: (run_dir / "log.txt").stat().st_size > size, 10, "the log grew")
    finally:
        os.killpg(now["child_pgid"], signal.SIGKILL)


def _assert_cancel_stops_everything(run_dir: Path, how: str, start) -> None:
    answer = start(SLEEPER)
    pids = run_dir / "work" / "pids.txt"
    wait_until(lambda: pids.exists() and (run_dir / "log.txt").read_text(), 30,
               "the script wrote its pids and its first line")
    script_pid, sleep_pid = map(int, pids.read_text().split())
    if how == "file":
        (run_dir / "cancel").touch()
    else:
        os.kill(answer["pid"], signal.SIGTERM)
    status = wait_status(run_dir, timeout=30)
    assert status["state"] == "Canceled" and status["reason"] == "canceled"
    # The agent reports Canceled only once the whole group is gone (SIGKILL after the grace)
    assert process_gone(script_pid) and process_gone(sleep_pid)


def test_cancel_by_file_stops_script_and_its_child(run_dir: Path, start) -> None:
    # Given a script that started `sleep 60`; When RUN_DIR/cancel appears
    # Then both are gone and the run is Canceled
    _assert_cancel_stops_everything(run_dir, "file", start)


def test_cancel_by_sigterm_stops_script_and_its_child(run_dir: Path, start) -> None:
    # Given the same script; When the supervisor gets SIGTERM; Then likewise
    _assert_cancel_stops_everything(run_dir, "sigterm", start)


def test_cancel_kills_a_script_that_ignores_sigterm(run_dir: Path, start) -> None:
    # Given a script that ignores SIGTERM
    start("import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
          "print('ready', flush=True)\ntime.sleep(60)\n")
    wait_until(lambda: (run_dir / "log.txt").read_text(), 30, "the script printed 'ready'")
    pid = read_status(run_dir)["child_pid"]
    # When canceled
    asked = time.time()
    (run_dir / "cancel").touch()
    status = wait_status(run_dir, timeout=30)
    # Then SIGKILL follows the grace second (a lower bound: load only makes it later)
    assert status["state"] == "Canceled" and status["exit_code"] == -signal.SIGKILL
    assert status["ended"] - asked >= 0.9, status
    assert process_gone(pid)


def test_leftover_background_process_is_stopped_at_the_end(run_dir: Path, start) -> None:
    # Given a script that leaves `sleep 60` running behind it
    start("import subprocess\np = subprocess.Popen(['sleep', '60'])\n"
          "open('bg.txt', 'w').write(str(p.pid))\n")
    # When the script ends
    status = wait_status(run_dir)
    # Then the run completes and its leftover is not left writing into the log
    assert status["state"] == "Completed"
    assert process_gone(int((run_dir / "work" / "bg.txt").read_text()))


def test_outputs_manifest_lists_regular_files_only(run_dir: Path, start, tmp_path: Path) -> None:
    # Given a script writing nested outputs, plus symlinks to a file and a folder outside
    secret = tmp_path / "outside"
    secret.mkdir()
    (secret / "passwd.txt").write_text("nope")
    start(textwrap.dedent(f"""\
        import os
        os.makedirs("outputs/model/deep", exist_ok=True)
        open("outputs/top.txt", "w").write("top")
        open("outputs/model/deep/w.bin", "wb").write(b"\\0" * 1000)
        os.symlink({str(secret / 'passwd.txt')!r}, "outputs/link.txt")
        os.symlink({str(secret)!r}, "outputs/linkdir")
    """))
    # When it completes
    assert wait_status(run_dir)["state"] == "Completed"
    # Then outputs.json lists the two regular files with sizes and hashes, and no symlink
    import hashlib
    outputs = json.loads((run_dir / "outputs.json").read_text())
    assert outputs == [
        {"path": "model/deep/w.bin", "size": 1000, "sha256": hashlib.sha256(b"\0" * 1000).hexdigest()},
        {"path": "top.txt", "size": 3, "sha256": hashlib.sha256(b"top").hexdigest()},
    ]


def test_args_and_env_arrive_byte_for_byte(run_dir: Path, start, tmp_path: Path) -> None:
    # Given arguments and env values full of shell metacharacters, newlines and non-ASCII
    nasty = ["it's \"quoted\"", "$(touch pwned)", "`touch pwned2`", "a\nb\n", "", "ünïcødé ✓",
             "--flag=1 2", "$HOME", "\\", "*"]
    env = {f"AML_T{i}": v for i, v in enumerate(nasty) if v}
    env["SECRET_TOKEN"] = "s3cret-value-XYZ"
    script = ("import json, os, sys\n"
              "names = sorted(k for k in os.environ\n"
              "               if k.startswith(('AML_T', 'AZUREML_', 'AML_MAGIC', 'PYTHON')))\n"
              "json.dump({'argv': sys.argv[1:], 'env': {k: os.environ[k] for k in names}},"
              " open('seen.json', 'w'))\n")
    share = tmp_path / "share"
    # When launched with them
    start(script, *nasty, env=env, native_share_dir=str(share))
    assert wait_status(run_dir)["state"] == "Completed"
    seen = json.loads((run_dir / "work" / "seen.json").read_text())
    # Then argv and env arrive unchanged, nothing was run by a shell
    assert seen["argv"] == nasty
    assert all(seen["env"][k] == v for k, v in env.items() if k.startswith("AML_T"))
    assert not list((run_dir / "work").glob("pwned*"))
    # And the run contract's variables are set
    assert seen["env"]["AZUREML_RUN_ID"] == seen["env"]["AML_MAGIC_RUN_ID"] == "proj_1_abcd"
    assert seen["env"]["AML_MAGIC_METRICS_FILE"] == str(run_dir / "metrics.jsonl")
    assert seen["env"]["AZUREML_NATIVE_SHARE_DIRECTORY"] == str(share) + "/" and share.is_dir()
    assert seen["env"]["PYTHONUNBUFFERED"] == "1"
    assert seen["env"]["PYTHONPATH"].split(os.pathsep)[0] == str(run_dir / ".agent" / "compat")
    # And the secret value was never written into the run folder by the agent
    for path in run_dir.rglob("*"):
        if path.is_file() and path.name != "seen.json":
            assert b"s3cret-value-XYZ" not in path.read_bytes(), path


def test_cancel_file_present_before_launch_means_never_started(run_dir: Path, start) -> None:
    # Given a cancel request that arrived before the launch
    (run_dir / "cancel").touch()
    # When launched; Then nothing runs and the run is Canceled
    answer = start("open('ran.txt', 'w').write('x')")
    assert read_status(run_dir)["state"] == "Canceled"
    # (once the supervisor has exited, nothing it could have started is pending)
    wait_until(lambda: process_gone(answer["pid"]), 30, "the supervisor exited")
    assert read_status(run_dir).get("child_pid") is None
    assert not (run_dir / "work" / "ran.txt").exists()
