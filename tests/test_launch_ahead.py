"""``aml experiment submit`` starts the local launcher (and the run's interpreter) first thing,
from what the run configuration's last local launch kept (targets/launcher_ahead.py): the run
is the same as one started the ordinary way, secrets are never kept for it, and Ctrl-C still
stops only the stream."""
from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from aml_magic.targets.launcher_ahead import CACHE_FILE, _submit_options
from tests._project import AML, aml, write

PROBE = """\
    import os, sys
    print("cmdline", open("/proc/self/cmdline").read().split("\\0")[1])
    print("argv", sys.argv, "cwd", os.path.basename(os.getcwd()), "path0", sys.path[0] == os.getcwd())
    print("env", os.environ.get("EXAMPLE_ENV_VAR"), len(os.environ.get("DB_PASSWORD", "")))
    """


def _lines(stdout: str) -> dict[str, str]:
    return {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in stdout.splitlines()
            if " " in line}


def _cache(project: Path) -> dict[str, Any]:
    path = project / CACHE_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def test_a_repeated_submit_runs_in_the_interpreter_started_ahead(project: Path) -> None:
    # Given a first submit, started the ordinary way, which notes how it launched
    write(project, "probe.py", PROBE)
    first = _lines(aml("experiment", "submit", "-c", "local", "probe.py", "a", "--wait",
                       cwd=project).stdout)
    assert first["cmdline"].endswith("probe.py")
    assert _cache(project)["local"] == {
        "python": _cache(project)["local"]["python"], "env": {"EXAMPLE_ENV_VAR": "Example Value"}}
    # When the same run configuration is submitted again
    second = _lines(aml("experiment", "submit", "-c", "local", "probe.py", "a", "--wait",
                        cwd=project).stdout)
    # Then its interpreter was the one started ahead, and the script saw what it saw before
    assert second["cmdline"].endswith("_prestart.py"), second
    assert {k: v for k, v in second.items() if k != "cmdline"} == \
        {k: v for k, v in first.items() if k != "cmdline"}


def test_a_changed_variable_starts_the_run_the_ordinary_way(project: Path) -> None:
    # Given a kept launch, then a run configuration whose variable changed
    write(project, "probe.py", PROBE)
    aml("experiment", "submit", "-c", "local", "probe.py", "--wait", cwd=project)
    rc = project / "aml_config" / "local.runconfig"
    rc.write_text(rc.read_text().replace("Example Value", "Changed Value"))
    assert "Changed Value" in rc.read_text()
    # When it is submitted
    shown = _lines(aml("experiment", "submit", "-c", "local", "probe.py", "--wait",
                       cwd=project).stdout)
    # Then the run has the new value, from an interpreter started for it, and the kept
    # launch follows the change
    assert shown["env"] == "Changed Value 0"
    assert shown["cmdline"].endswith("probe.py")
    assert _cache(project)["local"]["env"] == {"EXAMPLE_ENV_VAR": "Changed Value"}


def test_secret_values_are_never_kept_and_nothing_starts_ahead(project: Path) -> None:
    # Given a run configuration with a secret-looking variable (a literal value)
    write(project, "probe.py", PROBE)
    rc = project / "aml_config" / "local.runconfig"
    rc.write_text(rc.read_text().replace('"EXAMPLE_ENV_VAR": "Example Value"',
                                         '"EXAMPLE_ENV_VAR": "Example Value"\n'
                                         '  "DB_PASSWORD": "s3cr3t-v4lue"'))
    assert "s3cr3t-v4lue" in rc.read_text()
    # When it is submitted twice
    for _ in range(2):
        shown = _lines(aml("experiment", "submit", "-c", "local", "probe.py", "--wait",
                           cwd=project).stdout)
        # Then each run started the ordinary way, and no launch was kept for it
        assert shown["cmdline"].endswith("probe.py")
        assert shown["env"] == "Example Value 12"       # the value (the log masks it)
        assert "local" not in _cache(project)
    assert not (project / CACHE_FILE).exists() or \
        "s3cr3t-v4lue" not in (project / CACHE_FILE).read_text()


def test_ctrl_c_stops_the_stream_of_a_run_started_ahead_not_the_run(project: Path) -> None:
    # Given a kept launch, and a submit of a slow script followed in the foreground
    write(project, "slow.py", """\
        import time
        print('started', open('/proc/self/cmdline').read().split('\\0')[1], flush=True)
        time.sleep(3)
        print('finished', flush=True)
        """)
    write(project, "quick.py", "print('warm')\n")
    aml("experiment", "submit", "-c", "local", "quick.py", "--wait", cwd=project)
    proc = subprocess.Popen([*AML, "experiment", "submit", "-c", "local", "slow.py"],
                            cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert "started" in first and first.strip().endswith("_prestart.py"), first
        # When Ctrl-C reaches the command's process group
        os.killpg(proc.pid, signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    # Then the stream stopped and the run went on to its end
    assert proc.returncode == 130 and "keeps running" in err
    run_id = sorted(f.name for f in (project / ".aml" / "runs").iterdir())[-1]
    assert "Completed" in aml("run", "wait", run_id, "--timeout", "60", cwd=project).stdout
    assert "finished" in aml("run", "logs", run_id, cwd=project).stdout


def test_the_options_read_ahead_are_the_submit_verbs() -> None:
    assert _submit_options(["-c", "local", "t.py", "--project", "p"]) == ("local", "p")
    assert _submit_options(["t.py", "0.5", "--run-configuration=gpu", "--project=q"]) == \
        ("gpu", "q")
    assert _submit_options(["-c", "local", "t.py", "--", "-c", "other"]) == ("local", None)
    assert _submit_options(["-c", "local", "t.py", "--sweep", "a=1,2"]) == (None, None)
    assert _submit_options(["-c", "local", "-h"]) == (None, None)
