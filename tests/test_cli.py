"""The ``aml`` command line in a real subprocess against real projects: exit codes, streamed
logs, JSON listings, one-line errors for bad input, secrets."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests._project import AML, aml, write


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
    from aml_magic.domain.config import load_runconfig, write_runconfig
    cfg = load_runconfig(rc)
    cfg.framework = "PySpark"
    write_runconfig(cfg, rc)
    (project / "aml_config" / "local.compute").write_text(
        "type: local\nsparkSubmitLocation: /nonexistent/spark-submit\n")
    write(project, "s.py", "print(1)\n")
    proc = aml("experiment", "submit", "-c", "local", "s.py", cwd=project, check=False,
               timeout=20)
    assert proc.returncode == 2 and "spark-submit" in proc.stderr


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


def test_cli_secret_set_prints_a_reference_that_runs_resolve(project: Path) -> None:
    proc = subprocess.run([*AML, "secret", "set", "MY_TOKEN", "--stdin"], cwd=project, check=False,
                          input="tok-123456\n", capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    ref = proc.stdout.strip()
    assert ref.startswith("aml-secret:") and "tok-123456" not in proc.stdout + proc.stderr
    from aml_magic.domain.config import load_runconfig, write_runconfig
    rc_path = project / "aml_config" / "local.runconfig"
    cfg = load_runconfig(rc_path)
    cfg.environment_variables = {"MY_TOKEN": ref}
    write_runconfig(cfg, rc_path)
    write(project, "use.py", "import os; print(len(os.environ['MY_TOKEN']))\n")
    done = aml("experiment", "submit", "-c", "local", "use.py", "--wait", cwd=project)
    assert done.stdout.strip() == "10"
    assert "tok-123456" not in rc_path.read_text()
