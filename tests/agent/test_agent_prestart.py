"""The run's interpreter started ahead (agent/_prestart.py), driven as the warm launcher does:
``supervisor.py launch -`` with the guessed variables in its environment, the run given later
on stdin. The script must not be able to tell it from ``python script.py``."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from aml_magic.agent._prestart import GUESS_VARIABLE
from tests._wait import wait_until
from tests.agent.conftest import launch, ship_agent, wait_status

PROBE = textwrap.dedent("""\
    import json, os, sys
    print(json.dumps({
        "argv": sys.argv, "path0": sys.path[0], "file": __file__, "name": __name__,
        "cwd": os.getcwd(), "run_id": os.environ.get("AML_MAGIC_RUN_ID"),
        "guess_leaked": any(k == "AML_MAGIC_PRESTART_ENV" for k in os.environ),
        "user": os.environ.get("USER_VAR"), "flags": list(sys.flags),
        "main_is_module": type(sys.modules["__main__"]).__name__, "modules": sorted(sys.modules),
        "loader": type(__loader__).__name__, "spec": __spec__,
        "cmdline": open("/proc/self/cmdline", "rb").read().decode().split("\\0"),
    }))
""")


def _spec(env: dict[str, str]) -> dict[str, Any]:
    return {"run_id": "proj_1_abcd", "argv": ["python", "script.py", "a b", "--x"],
            "python": sys.executable, "env": env}


def _spare_launcher(run_dir: Path, guess: dict[str, str]) -> Any:
    """``supervisor.py launch -`` as the warm launcher starts it: told the variables the next
    run will likely declare, it starts that run's interpreter ahead and waits for the run."""
    supervisor = ship_agent(run_dir)
    return subprocess.Popen([sys.executable, "-S", "-E", str(supervisor), "launch", "-"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE,
                            env=dict(os.environ, **{GUESS_VARIABLE: json.dumps(guess)}))


def _launch_ahead(run_dir: Path, spec: dict[str, Any], guess: dict[str, str]) -> Any:
    """A spare launcher: started with the guess, the run handed over once it waits."""
    proc = _spare_launcher(run_dir, guess)
    out, err = proc.communicate(os.fsencode(run_dir) + b"\0" + json.dumps(spec).encode(),
                                timeout=30)
    assert proc.returncode == 0, err
    return json.loads(out)


def _probe(run_dir: Path) -> dict[str, Any]:
    status = wait_status(run_dir)
    assert status["state"] == "Completed", (run_dir / "log.txt").read_text()
    return dict(json.loads((run_dir / "log.txt").read_text()))


def test_prestarted_run_sees_what_a_fresh_python_sees(tmp_path: Path) -> None:
    # Given the same probe script and spec, once started cold and once by a spare launcher
    cold, ahead = tmp_path / "cold", tmp_path / "ahead"
    for folder in (cold, ahead):
        (folder / "work").mkdir(parents=True)
        (folder / "work" / "script.py").write_text(PROBE)
    env = {"USER_VAR": "declared"}
    # When each runs
    assert launch(cold, _spec(env)).returncode == 0
    _launch_ahead(ahead, _spec(env), guess=env)
    seen_cold, seen_ahead = _probe(cold), _probe(ahead)
    # Then the prestarted interpreter really ran it (its command line shows _prestart.py)
    assert seen_ahead["cmdline"][1].endswith("_prestart.py")
    assert seen_cold["cmdline"][1] == "script.py"
    # And everything the script can see is the same, paths aside (two run folders)
    for seen, folder in ((seen_cold, cold), (seen_ahead, ahead)):
        assert seen["argv"] == ["script.py", "a b", "--x"]
        assert seen["path0"] == os.path.realpath(folder / "work")
        assert seen["file"] == str(folder / "work" / "script.py")
        assert seen["cwd"] == str(folder / "work")
        seen.pop("cmdline"), seen.pop("path0"), seen.pop("file"), seen.pop("cwd")
    assert seen_ahead == seen_cold
    assert seen_ahead["guess_leaked"] is False and seen_ahead["user"] == "declared"
    assert seen_ahead["name"] == "__main__" and seen_ahead["spec"] is None


def test_prestarted_run_reports_failures_as_python_does(tmp_path: Path) -> None:
    # Given a script that raises, run by a spare launcher
    run_dir = tmp_path / "run"
    (run_dir / "work").mkdir(parents=True)
    (run_dir / "work" / "script.py").write_text("def f():\n    raise ValueError('boom')\nf()\n")
    _launch_ahead(run_dir, _spec({}), guess={})
    # When it ends
    status = wait_status(run_dir)
    log = (run_dir / "log.txt").read_text()
    # Then it failed with exit code 1 and a traceback of the script's frames only
    assert (status["state"], status["exit_code"]) == ("Failed", 1)
    assert log.startswith("Traceback (most recent call last):")
    assert "ValueError: boom" in log and 'script.py", line 3' in log
    assert "_prestart.py" not in log


def test_prestarted_run_keeps_its_exit_code(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    (run_dir / "work").mkdir(parents=True)
    (run_dir / "work" / "script.py").write_text("import sys\nsys.exit(3)\n")
    _launch_ahead(run_dir, _spec({}), guess={})
    status = wait_status(run_dir)
    assert (status["state"], status["exit_code"]) == ("Failed", 3)


def test_a_variable_the_interpreter_did_not_start_with_means_a_fresh_start(
        tmp_path: Path) -> None:
    # Given a spare that guessed no variables, and a run declaring one
    run_dir = tmp_path / "run"
    (run_dir / "work").mkdir(parents=True)
    (run_dir / "work" / "script.py").write_text(PROBE)
    _launch_ahead(run_dir, _spec({"USER_VAR": "declared"}), guess={})
    seen = _probe(run_dir)
    # Then the command was started afresh (a variable may steer start-up: .pth files)
    assert seen["cmdline"][1] == "script.py" and seen["user"] == "declared"


def _prestarted_pids() -> set[int]:
    pids = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if b"_prestart.py" in cmdline:
                pids.add(int(entry))
    return pids


_READ_SYSCALL = {"x86_64": "0", "aarch64": "63"}


def _blocked_reading_a_pipe(pid: int) -> bool:
    """Whether ``pid`` sleeps in ``read(0, ...)``: past its start-up, waiting for its run."""
    number = _READ_SYSCALL.get(os.uname().machine)
    assert number is not None, f"no read syscall number known for {os.uname().machine}"
    try:
        fields = Path(f"/proc/{pid}/syscall").read_text().split()
    except OSError:
        return False
    return fields[:2] == [number, "0x0"]


def test_an_unused_spare_leaves_no_process(tmp_path: Path) -> None:
    # Given a spare launcher whose interpreter has started ahead
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    before = _prestarted_pids()
    proc = _spare_launcher(run_dir, {})
    ours = wait_until(lambda: _prestarted_pids() - before, message="interpreter started ahead")
    # When the process that kept it goes away (end of input)
    out, err = proc.communicate(b"", timeout=30)
    # Then the launcher exits quietly and so does the interpreter waiting beside it
    assert (proc.returncode, out, err) == (0, b"", b"")
    wait_until(lambda: not (ours & _prestarted_pids()), message="waiting interpreter exited")


def test_a_spare_whose_supervisor_died_still_starts_the_run(tmp_path: Path) -> None:
    # Given a spare launcher whose supervisor forked ahead was killed while waiting
    run_dir = tmp_path / "run"
    (run_dir / "work").mkdir(parents=True)
    (run_dir / "work" / "script.py").write_text(PROBE)
    before = _prestarted_pids()
    proc = _spare_launcher(run_dir, {})
    waiting = wait_until(lambda: _prestarted_pids() - before, message="interpreter started ahead")
    (pid,) = waiting
    parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    os.kill(parent, signal.SIGKILL)
    wait_until(lambda: not (waiting & _prestarted_pids()), message="waiting interpreter exited")
    # When the run is handed over, Then the launcher starts it the ordinary way
    out, err = proc.communicate(os.fsencode(run_dir) + b"\0" + json.dumps(_spec({})).encode(),
                                timeout=30)
    assert proc.returncode == 0, err
    assert json.loads(out)["state"] == "Running"
    assert _probe(run_dir)["cmdline"][1] == "script.py"


def test_an_install_while_it_waited_means_a_fresh_start(tmp_path: Path) -> None:
    # Given a spare whose interpreter started ahead, then a folder on its sys.path changed
    # (as `pip install` changes site-packages; here the agent's compat folder, on PYTHONPATH)
    run_dir = tmp_path / "run"
    (run_dir / "work").mkdir(parents=True)
    (run_dir / "work" / "script.py").write_text(PROBE)
    before = _prestarted_pids()
    proc = _spare_launcher(run_dir, {})
    (pid,) = wait_until(lambda: _prestarted_pids() - before, message="interpreter started ahead")
    wait_until(lambda: _blocked_reading_a_pipe(pid), message="interpreter waiting for its run")
    (run_dir / ".agent" / "compat" / "newly_installed.py").write_text("")
    # When the run is handed over
    out, err = proc.communicate(os.fsencode(run_dir) + b"\0" + json.dumps(_spec({})).encode(),
                                timeout=30)
    assert proc.returncode == 0, err
    # Then the command was started afresh, as `python script.py`
    seen = _probe(run_dir)
    assert seen["cmdline"][1] == "script.py"
    assert seen["argv"] == ["script.py", "a b", "--x"]
