"""``aml experiment submit`` forks a local run's detached supervisor from the command itself
(no interpreter started for it, targets/placement.py ``fork_supervisors``): the supervisor
holds none of the command's files, lives in its own session, outlives the command, and the run
sees what a run started by the API sees."""
from __future__ import annotations

import json
import os
from pathlib import Path

from aml_magic.service.workspace import Workspace
from tests._project import aml, write

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


def test_the_cli_forks_the_supervisor_and_it_holds_none_of_the_commands_files(
        project: Path) -> None:
    # Given a script reporting what its supervisor (its parent) holds
    write(project, "probe.py", PROBE)
    # When it is submitted from the command line and from the API
    cli = _probe(aml("experiment", "submit", "-c", "local", "probe.py", "x", "--wait",
                     cwd=project).stdout)
    run = Workspace(project).submit("local", "probe.py", ["x"], wait=True)
    api = _probe(run.log_text()[0])
    # Then the run saw the same, and the supervisor forked from the command holds only its own
    # files (no history database, no pipe of the command's caller)
    assert {k: cli[k] for k in ("argv", "cwd", "env")} == {k: api[k] for k in ("argv", "cwd", "env")}
    files = [str(f) for f in cli["files"]]  # type: ignore[attr-defined]
    assert not any("history.db" in f for f in files), files
    assert sum(f.startswith("pipe:") for f in files) <= 2, files  # its own wake-up pipe
    assert cli["parent_sid"] != os.getsid(0)           # a session of its own
    # (forked from the command: its command line is the command's, not supervisor.py's)
    assert "experiment" in cli["parent_cmdline"], cli["parent_cmdline"]  # type: ignore[operator]
    assert any(a.endswith("supervisor.py") for a in api["parent_cmdline"]), api  # type: ignore[attr-defined]
