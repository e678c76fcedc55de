"""The Workbench ``azureml.logging`` stand-in, and its deference to a real ``azureml``.

On Workbench-era interpreters (Python 2.7, and the agent's oldest Python) the stand-in is proven
in a Debian bullseye container: tests/agent/test_agent_old_python.py."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from aml_magic.agent import AGENT_DIR
from tests.agent.conftest import wait_status

COMPAT = str(AGENT_DIR / "compat")


def test_metrics_land_in_metrics_file(run_dir: Path, start) -> None:
    # Given a script logging the Workbench way: scalars, a list, a numpy-like scalar
    script = textwrap.dedent("""\
        from azureml.logging import get_azureml_logger
        class Float64:
            def item(self): return 0.25
        logger = get_azureml_logger()
        assert logger.log("Regularization Rate", 0.01) is None
        logger.log("Accuracy", 0.9)
        logger.log("Accuracy", 0.95)
        logger.log("curve", [1, 2.5, 3])
        logger.log("np", Float64())
        print("done")
    """)
    # When it runs under the agent
    start(script)
    assert wait_status(run_dir)["state"] == "Completed"
    # Then each call is one JSON line with name, value, step (per name) and time; the log is clean
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [(m["name"], m["value"], m["step"]) for m in lines] == [
        ("Regularization Rate", 0.01, 0), ("Accuracy", 0.9, 0), ("Accuracy", 0.95, 1),
        ("curve", [1, 2.5, 3], 0), ("np", 0.25, 0)]
    assert all(isinstance(m["time"], float) for m in lines)
    assert (run_dir / "log.txt").read_text() == "done\n"


def _run_with_path(code: str, *paths: str, env_extra: dict[str, str] | None = None,
                   python: str = sys.executable) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AML_MAGIC_METRICS_FILE")}
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.update(env_extra or {})
    return subprocess.run([python, "-c", code], env=env, capture_output=True, text=True, timeout=30)


def test_without_metrics_file_logging_warns_and_does_nothing(tmp_path: Path) -> None:
    # Given the script run by hand (no AML_MAGIC_METRICS_FILE)
    code = ("import warnings; warnings.simplefilter('always')\n"
            "from azureml.logging import get_azureml_logger\n"
            "l = get_azureml_logger(); print(l.log('a', 1)); l.log('a', 2)\n")
    # When it logs twice
    done = _run_with_path(code, COMPAT)
    # Then it warns once, records nothing and returns None
    assert done.returncode == 0, done.stderr
    assert done.stdout == "None\n"
    assert done.stderr.count("AML_MAGIC_METRICS_FILE is not set") == 1


def _fake_site(tmp_path: Path, files: dict[str, str]) -> str:
    site = tmp_path / "site"
    for rel, text in files.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text(text)
    return str(site)


def test_real_azureml_with_logging_wins(tmp_path: Path) -> None:
    # Given a real azureml (later on sys.path, like site-packages) with its own azureml.logging
    site = _fake_site(tmp_path, {
        "azureml/__init__.py": "MARK = 'real'\n",
        "azureml/logging.py": "def get_azureml_logger():\n    return 'real logger'\n"})
    # When a run imports it with the compat folder first on PYTHONPATH
    done = _run_with_path("import azureml, azureml.logging as l\n"
                          "print(azureml.MARK, l.get_azureml_logger())", COMPAT, site)
    # Then the real package and its logging are used
    assert done.returncode == 0, done.stderr
    assert done.stdout == "real real logger\n"


@pytest.mark.parametrize("init", ["__path__ = __import__('pkgutil').extend_path(__path__, __name__)\n",
                                  None], ids=["pkgutil", "namespace"])
def test_real_azureml_without_logging_still_gets_the_stand_in(tmp_path: Path, init) -> None:
    # Given a modern azureml SDK layout (pkgutil-style or namespace package) without logging
    files = {"azureml/core/__init__.py": "WHO = 'core'\n"}
    if init is not None:
        files["azureml/__init__.py"] = init
    site = _fake_site(tmp_path, files)
    metrics = tmp_path / "m.jsonl"
    # When a run uses both azureml.core and azureml.logging
    done = _run_with_path("import azureml.core, azureml.logging as l\n"
                          "l.get_azureml_logger().log('x', 1)\nprint(azureml.core.WHO)",
                          COMPAT, site, env_extra={"AML_MAGIC_METRICS_FILE": str(metrics)})
    # Then the real core and the stand-in logging both work
    assert done.returncode == 0, done.stderr
    assert done.stdout == "core\n"
    assert json.loads(metrics.read_text())["value"] == 1


def test_broken_real_azureml_falls_back_to_stand_in(tmp_path: Path) -> None:
    # Given a real azureml whose import fails
    site = _fake_site(tmp_path, {"azureml/__init__.py": "raise ImportError('broken')\n"})
    # When a run imports azureml.logging; Then the stand-in serves it
    done = _run_with_path("from azureml.logging import get_azureml_logger as g\nprint(g().log('a', 1))",
                          COMPAT, site)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "None\n"
