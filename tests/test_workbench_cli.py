"""The ``az ml`` command lines of the Workbench quickstart and Iris tutorial, replayed with
``aml`` in place of ``az ml`` against a real project whose script logs metrics through
``azureml.logging``; each command's effect is checked (issue 11)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

from tests._project import AML, aml, write

IRIS = """\
import sys, os
from azureml.logging import get_azureml_logger
reg = float(sys.argv[1]) if len(sys.argv) > 1 else 0.01
accuracy = round(1.0 - reg / 2, 4)
run_logger = get_azureml_logger()
run_logger.log("Regularization Rate", reg)
run_logger.log("Accuracy", accuracy)
os.makedirs("outputs", exist_ok=True)
with open("outputs/model.pkl", "w") as fh:
    fh.write("model %s" % reg)
print("Accuracy is", accuracy)
sys.exit(3 if reg > 5 else 0)
"""


def test_submit_streams_and_exits_with_the_scripts_code(project: Path) -> None:
    write(project, "iris_sklearn.py", IRIS)
    # az ml experiment submit -c local iris_sklearn.py  (blocks, streams, script's exit code)
    done = aml("experiment", "submit", "-c", "local", "iris_sklearn.py", cwd=project)
    assert "Accuracy is 0.995" in done.stdout
    failed = aml("experiment", "submit", "-c", "local", "iris_sklearn.py", "10", cwd=project,
                 check=False)
    assert failed.returncode == 3 and "Accuracy is -4.0" in failed.stdout
    # -a/--async prints the run id and returns
    started = aml("experiment", "submit", "-a", "-c", "local", "iris_sklearn.py", "0.5",
                  cwd=project)
    run_id = started.stdout.strip()
    assert run_id and "Accuracy" not in started.stdout
    waited = aml("run", "wait", run_id, "--timeout", "60", cwd=project)
    assert "Completed" in waited.stdout


def test_submit_overrides_target_and_dependency_files(project: Path) -> None:
    write(project, "t.py", "print('ran')\n")
    # -t overrides the runconfig's target: 'nope' is not attached, so the error names it
    bad = aml("experiment", "submit", "-c", "local", "-t", "nope", "t.py", cwd=project,
              check=False)
    assert bad.returncode == 2 and "nope" in bad.stderr
    write(project, "deps/conda.yml", "dependencies:\n  - python\n")
    ran = aml("experiment", "submit", "-c", "local", "-t", "local", "-d", "deps/conda.yml",
              "t.py", cwd=project)
    assert "ran" in ran.stdout
    [run_id] = [f.name for f in (project / ".aml" / "runs").iterdir()]
    detail = json.loads(aml("run", "show", run_id, "-o", "json", cwd=project).stdout)
    assert detail["configuration"]["runconfig"].get("CondaDependenciesFile") == \
        "deps/conda.yml", detail["configuration"]


def test_ctrl_c_stops_the_stream_not_the_run(project: Path) -> None:
    write(project, "slow.py", """\
        import time
        print('started', flush=True)
        time.sleep(3)
        print('finished', flush=True)
        """)
    proc = subprocess.Popen([*AML, "experiment", "submit", "-c", "local", "slow.py"],
                            cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()          # the stream has begun: the run printed it
        assert "started" in first, first
        os.kill(proc.pid, signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert "keeps running" in err and "--follow" in err
    [run_id] = [f.name for f in (project / ".aml" / "runs").iterdir()]
    waited = aml("run", "wait", run_id, "--timeout", "60", cwd=project)
    assert "Completed" in waited.stdout
    assert "finished" in aml("run", "logs", run_id, cwd=project).stdout


def test_show_and_detach_take_the_name_positionally_or_with_n(project: Path) -> None:
    assert "local" in aml("computetarget", "show", "local", cwd=project).stdout
    assert "local" in aml("computetarget", "show", "-n", "local", cwd=project).stdout
    shown = json.loads(aml("runconfiguration", "show", "local", "-o", "json",
                           cwd=project).stdout)
    assert shown["name"] == "local"
    none = aml("computetarget", "show", cwd=project, check=False)
    assert none.returncode == 2 and "NAME" in none.stderr
    aml("computetarget", "detach", "docker", cwd=project)
    assert not (project / "aml_config" / "docker.compute").exists()
