"""``aml experiment submit`` spawns its local run's launcher first thing (frontends/cli/program.py,
ahead.py), whose detached supervisor starts the run's interpreter beside the command: the
supervisor holds none of the command's files, lives in its own session, outlives the command,
and the run sees what a run started by the API sees."""
from __future__ import annotations

import json
import os
from pathlib import Path

from aml_magic.service.workspace import Workspace
from tests._project import aml, write
from tests._wait import wait_until

PROBE = """\
    import json, os, sys
    parent = os.getppid()
    files = [os.readlink(f"/proc/{parent}/fd/{fd}") for fd in os.listdir(f"/proc/{parent}/fd")]
    print(json.dumps({"argv": sys.argv, "cwd": os.path.basename(os.getcwd()),
                      "env": os.environ.get("EXAMPLE_ENV_VAR"), "files": files,
                      "parent_sid": os.getsid(parent),
                      "parent_cmdline": open(f"/proc/{parent}/cmdline").read().split("\\0")}))
    """


def _probe(text: str) -> dict[str, object]:
    lines = [line for line in text.splitlines() if line.startswith("{")]
    assert lines, text
    found: dict[str, object] = json.loads(lines[-1])
    return found


def test_the_cli_spawns_the_supervisor_and_it_holds_none_of_the_commands_files(
        project: Path) -> None:
    # Given a script reporting what its supervisor (its parent) holds
    write(project, "probe.py", PROBE)
    # When it is submitted from the command line and from the API
    cli = _probe(aml("experiment", "submit", "-c", "local", "probe.py", "x", "--wait",
                     cwd=project).stdout)
    run = Workspace(project).submit("local", "probe.py", ["x"], wait=True)
    api = _probe(run.log_text()[0])
    # Then the run saw the same, and the supervisor holds only its own files (no history
    # database, no pipe of the command's caller)
    assert {k: cli[k] for k in ("argv", "cwd", "env")} == {k: api[k] for k in ("argv", "cwd", "env")}
    files = [str(f) for f in cli["files"]]  # type: ignore[attr-defined]
    assert not any("history.db" in f for f in files), files
    assert sum(f.startswith("pipe:") for f in files) <= 2, files  # its own wake-up pipe
    assert cli["parent_sid"] != os.getsid(0)           # a session of its own
    # (spawned, not forked from the command: its command line is supervisor.py's, as the API's)
    for seen in (cli, api):
        assert any(a.endswith("supervisor.py") for a in seen["parent_cmdline"]), seen  # type: ignore[attr-defined]


SELF_PROBE = """\
    import json, os, sys
    own = open("/proc/self/cmdline").read().split("\\0")
    print(json.dumps({"argv": sys.argv, "cwd": os.path.basename(os.getcwd()),
                      "env": os.environ.get("EXAMPLE_ENV_VAR"), "main": __name__,
                      "file": os.path.basename(__file__), "own_cmdline": own}))
    """


def test_a_repeated_submit_runs_in_the_interpreter_started_beside_the_command(
        project: Path) -> None:
    # Given a script reporting what it sees of its own process
    write(project, "probe.py", SELF_PROBE)
    submit = ("experiment", "submit", "-c", "local", "probe.py", "x", "--wait")
    # When the same command runs twice (the first remembers the variables its run
    # configuration declares, so the second starts the run's interpreter with them at its
    # own start: frontends/cli/ahead.py)
    first = _probe(aml(*submit, cwd=project).stdout)
    second = _probe(aml(*submit, cwd=project).stdout)
    # Then both runs saw what `python probe.py x` sees, declared variable included
    seen = ("argv", "cwd", "env", "main", "file")
    assert {k: first[k] for k in seen} == {k: second[k] for k in seen} == {
        "argv": ["probe.py", "x"], "cwd": "work", "env": "Example Value", "main": "__main__",
        "file": "probe.py"}
    # and the second ran in the interpreter started ahead (its documented visible difference:
    # the process's command line names the waiting file), the first in one started for it
    assert first["own_cmdline"][1:3] == ["probe.py", "x"], first  # type: ignore[index]
    assert str(second["own_cmdline"][1]).endswith("_prestart.py"), second  # type: ignore[index]


def _processes_marked(mark: str) -> list[int]:
    """The processes whose environment holds ``AML_TEST_MARK=mark``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as handle:
                if f"AML_TEST_MARK={mark}".encode() in handle.read().split(b"\0"):
                    found.append(int(pid))
        except OSError:
            continue                    # gone meanwhile, or not ours to read
    return found


def test_the_launcher_spawned_ahead_exits_with_its_interpreter_when_no_run_takes_it(
        project: Path) -> None:
    # Given submits that never hand a run to the launcher spawned at the command's start
    # (an error before the launch; a sweep, whose children are started by its driver; an
    # argument error, before the command has told the launcher its guess)
    write(project, "probe.py", "print('ran')\n")
    mark = os.urandom(8).hex()
    env = dict(os.environ, AML_TEST_MARK=mark)
    failed = aml("experiment", "submit", "-c", "nosuch", "probe.py", cwd=project, check=False,
                 env=env)
    assert failed.returncode == 2 and "no run configuration 'nosuch'" in failed.stderr
    aml("experiment", "submit", "-c", "local", "probe.py", "--sweep", "x=1", "--wait",
        cwd=project, env=env)
    bad = aml("experiment", "submit", "--no-such-option", cwd=project, check=False, env=env)
    assert bad.returncode == 2
    # Then neither it, nor the supervisor and interpreter it started, is left behind
    wait_until(lambda: not _processes_marked(mark), 30,
               "the unused launcher, supervisor and interpreter to exit")


def test_a_submit_with_its_standard_input_closed_runs(project: Path) -> None:
    # Given a command started with no standard input at all (a daemon's, cron's: the pipes to
    # the launcher it spawns then take that descriptor's number)
    import shlex
    import subprocess
    import sys
    write(project, "probe.py", "print('ran')\n")
    command = " ".join(shlex.quote(a) for a in (
        sys.executable, "-m", "aml_magic", "experiment", "submit", "-c", "local", "probe.py",
        "--wait"))
    # When it submits and waits
    proc = subprocess.run(["sh", "-c", f"exec 0<&-; exec {command}"], cwd=project,
                          capture_output=True, text=True, timeout=120)
    # Then the run ran and completed as usual
    assert proc.returncode == 0, proc.stderr
    assert "ran" in proc.stdout and "Completed" in proc.stderr
