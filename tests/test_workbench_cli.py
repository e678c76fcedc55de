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
    missing = aml("experiment", "submit", "-c", "local", "-d", "deps/none.yml", "t.py",
                  cwd=project, check=False)
    assert missing.returncode == 2 and "-d/--conda-dependencies deps/none.yml" in missing.stderr
    assert not (project / ".aml" / "runs").exists() or not any(
        (project / ".aml" / "runs").iterdir())
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
    # its own process group, as a shell's foreground job: Ctrl-C signals the whole group
    proc = subprocess.Popen([*AML, "experiment", "submit", "-c", "local", "slow.py"],
                            cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()          # the stream has begun: the run printed it
        assert "started" in first, first
        os.killpg(proc.pid, signal.SIGINT)          # what the terminal does on Ctrl-C
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


def _history(project: Path, *args: str) -> object:
    return json.loads(aml("history", *args, "-o", "json", cwd=project).stdout)


def test_iris_tutorial_command_lines(project: Path, tmp_path: Path) -> None:
    write(project, "iris_sklearn.py", IRIS)
    # Quickstart / tutorial part 1: run the script, then with a regularization rate
    aml("experiment", "submit", "-c", "local", "iris_sklearn.py", cwd=project)
    for rate in ("0.5", "0.1"):
        aml("experiment", "submit", "-c", "local", "iris_sklearn.py", rate, cwd=project)
    failed = aml("experiment", "submit", "-c", "local", "iris_sklearn.py", "10", cwd=project,
                 check=False)
    assert failed.returncode == 3

    # aml history list -o table: metrics as columns, arguments shown
    table = aml("history", "list", "-o", "table", cwd=project).stdout.splitlines()
    header = table[0].split()
    assert header[:5] == ["RUN", "ID", "STATUS", "STARTED", "DURATION"]
    assert "Accuracy" in table[0] and "Regularization Rate" in table[0]
    assert len(table) == 5
    by_args = {line.split()[0]: line for line in table[1:]}
    rows = _history(project, "list")
    assert isinstance(rows, list) and len(rows) == 4
    for row in rows:
        line = by_args[row["run_id"]]
        assert f"{row['metrics']['Accuracy']:.6g}" in line
        assert row["arguments"] == ([] if row["Regularization Rate"] == 0.01
                                    else [f"{row['Regularization Rate']:g}"])

    # --sort-by a metric, both ways
    ranked = json.loads(aml("history", "list", "--sort-by", "Accuracy", "--descending",
                            "-o", "json", cwd=project).stdout)
    assert [r["Accuracy"] for r in ranked] == [0.995, 0.95, 0.75, -4.0]
    sorted_table = aml("history", "list", "--sort-by", "Accuracy", cwd=project).stdout
    assert sorted_table.splitlines()[1].split()[0] == ranked[-1]["run_id"]

    # --query "[?status=='Completed']"
    completed = json.loads(aml("history", "list", "--query", "[?status=='Completed']",
                               "-o", "json", cwd=project).stdout)
    assert sorted(r["run_id"] for r in completed) == sorted(
        r["run_id"] for r in rows if r["exit_code"] == 0)
    assert len(completed) == 3
    # --query "@[?Accuracy != null] | max_by(@, &Accuracy)"
    best = json.loads(aml("history", "list", "--query",
                          "@[?Accuracy != null] | max_by(@, &Accuracy)", "-o", "json",
                          cwd=project).stdout)
    assert best["Accuracy"] == 0.995 and best["arguments"] == []
    best_text = aml("history", "list", "--query", "@[?Accuracy != null] | max_by(@, &Accuracy)",
                    cwd=project).stdout
    assert best["run_id"] in best_text
    tsv = aml("history", "list", "--query", "[].[run_id, Accuracy]", "-o", "tsv",
              cwd=project).stdout.splitlines()
    assert sorted(tsv) == sorted(f"{r['run_id']}\t{r['Accuracy']:.6g}" for r in rows)
    bad = aml("history", "list", "--query", "[?status==", cwd=project, check=False)
    assert bad.returncode == 2 and bad.stderr.startswith("aml: error: --query")
    assert "Traceback" not in bad.stderr

    # aml history info -r ID (= run show), positional too; aml history last
    best_id = best["run_id"]
    info = _history(project, "info", "-r", best_id)
    assert isinstance(info, dict)
    assert info["run_id"] == best_id and info["outputs"][0]["path"] == "model.pkl"
    assert {m["name"] for m in info["metrics"]} == {"Accuracy", "Regularization Rate"}
    assert "Accuracy = 0.995" in aml("history", "info", best_id[-8:], cwd=project).stdout
    last = _history(project, "last")
    assert isinstance(last, dict) and last["run_id"] == rows[0]["run_id"]

    # aml history download -r ID -d out
    aml("history", "download", "-r", best_id, "-d", "out", cwd=project)
    assert (project / "out" / "model.pkl").read_text() == "model 0.01"

    # aml history compare --last 2, and by ids
    compared = _history(project, "compare", "--last", "2")
    assert isinstance(compared, dict)
    assert [r["run_id"] for r in compared["runs"]] == [r["run_id"] for r in rows[:2]]
    text = aml("history", "compare", rows[0]["run_id"], best_id, cwd=project).stdout
    lines = {line.split("  ")[0]: line for line in text.splitlines()}
    assert rows[0]["run_id"] in lines["RUN"] and best_id in lines["RUN"]
    assert "0.995" in lines["Accuracy"] and "arguments" in lines and "duration" in lines

    # aml project restore --run-id ID: the script as it was for that run
    (project / "iris_sklearn.py").write_text("print('edited since')\n")
    restored = aml("project", "restore", "--run-id", best_id, "--yes", cwd=project)
    assert "1 file(s) written" in restored.stdout
    assert (project / "iris_sklearn.py").read_text() == IRIS
    aml("project", "restore", "--run-id", best_id, "-d", str(tmp_path / "copy"), cwd=project)
    assert (tmp_path / "copy" / "iris_sklearn.py").read_text() == IRIS
    assert (tmp_path / "copy" / "aml_config" / "local.runconfig").is_file()


def test_restore_refuses_when_the_content_is_gone(project: Path) -> None:
    write(project, "t.py", "print('v1')\n")
    aml("experiment", "submit", "-c", "local", "t.py", cwd=project)
    [run_folder] = list((project / ".aml" / "runs").iterdir())
    import shutil
    shutil.rmtree(run_folder / "work")
    write(project, "t.py", "print('v2')\n")
    refused = aml("project", "restore", "--run-id", run_folder.name, cwd=project, check=False)
    assert refused.returncode == 2
    assert "exists nowhere" in refused.stderr and "t.py" in refused.stderr
    assert (project / "t.py").read_text() == "print('v2')\n"      # nothing was written


def test_every_listing_takes_query_and_tsv(project: Path) -> None:
    write(project, "t.py", "print('x')\n")
    aml("experiment", "submit", "-c", "local", "t.py", cwd=project)
    names = aml("computetarget", "list", "--query", "[].name", "-o", "tsv", cwd=project)
    assert sorted(names.stdout.split()) == ["docker", "local"]
    local = aml("runconfiguration", "list", "--query", "[?target=='local'].name", "-o", "json",
                cwd=project)
    assert json.loads(local.stdout) == ["local"]
    [run_id] = [f.name for f in (project / ".aml" / "runs").iterdir()]
    listed = aml("run", "list", "--query", "[].[run_id, status]", "-o", "tsv", cwd=project)
    assert listed.stdout.strip() == f"{run_id}\tCompleted"
    pruned = aml("history", "prune", "--status", "Completed", "--query", "runs[].run_id",
                 "-o", "tsv", cwd=project)
    assert pruned.stdout.strip() == run_id and "would remove 1 run" in pruned.stderr
    shown = aml("history", "info", run_id, "--query", "status", cwd=project)
    assert shown.stdout.strip() == "Completed"
