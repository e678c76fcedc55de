"""The local target's managed environment: ``aml experiment prepare -c local --managed`` (or
``userManagedEnvironment: false``) builds a uv venv from ``conda_dependencies.yml``, cached by
the content of the specification: a second prepare is a no-op, runs use it. Real processes, a
real uv build from PyPI (two small pure packages)."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from aml_magic import Workspace
from aml_magic.domain.history.status import RunStatus
from aml_magic.errors import AmlError
from tests._project import aml, write
from tests.targets.provenance_probe import PROBE, probed

CONDA = """\
name: project_environment
dependencies:
  - python=3.11
  - six
  - mkl
  - aml-no-such-conda-name-xyz
  - pip:
    - tomli==2.0.1
"""


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user cache folder of the test's own (environments live in ``<cache>/envs``)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("AML_MAGIC_CACHE_DIR", str(folder))
    return folder


def test_prepare_managed_builds_once_then_reuses_and_runs_use_it(project: Path,
                                                                  cache: Path) -> None:
    # Given a conda specification with a mapped conda name, a pip pin, a conda-only package
    # and a conda name PyPI does not have
    write(project, "aml_config/conda_dependencies.yml", CONDA)
    write(project, "uses.py", "import six, tomli\n" + PROBE)
    # When prepared with --managed (cold)
    started = time.monotonic()
    cold = aml("experiment", "prepare", "-c", "local", "--managed", cwd=project,
               env=dict(os.environ))
    cold_seconds = time.monotonic() - started
    # Then the .compute says so, a uv venv was built in the cache, and the two specs it could
    # not honour are named
    assert "userManagedEnvironment set to false" in cold.stdout
    assert "userManagedEnvironment: false" in (project / "aml_config/local.compute").read_text()
    assert "built with uv" in cold.stdout, cold.stdout
    assert "mkl (conda-only package" in cold.stdout
    assert "aml-no-such-conda-name-xyz (not found on PyPI)" in cold.stdout
    [env] = list((cache / "envs").iterdir())
    marker = env / ".aml-env.json"
    assert json.loads(marker.read_text())["installer"] == "uv"
    built_at = marker.stat().st_mtime_ns
    # When prepared again, unchanged
    started = time.monotonic()
    cached = aml("experiment", "prepare", "-c", "local", cwd=project, env=dict(os.environ))
    cached_seconds = time.monotonic() - started
    # Then nothing is rebuilt: reused, the marker untouched, and it costs no build
    assert "reused" in cached.stdout and "built" not in cached.stdout, cached.stdout
    assert marker.stat().st_mtime_ns == built_at
    assert list((cache / "envs").iterdir()) == [env]
    print(f"prepare cold {cold_seconds:.2f} s, cached {cached_seconds:.2f} s")
    # When a run imports the environment's packages
    ws = Workspace(project)
    run = ws.submit("local", "uses.py", wait=True)
    # Then it ran with the environment's interpreter, and the record says so
    assert run.status is RunStatus.COMPLETED, (run.record.reason, run.log_text()[0])
    seen = probed(run.log_text()[0])
    assert seen["executable"] == str(env / "bin" / "python")
    assert seen["prefix"] == str(env)
    assert run.record.provenance["python_prefix"] == str(env)
    assert run.record.environment_hash == env.name
    info = aml("history", "info", run.id, cwd=project, env=dict(os.environ)).stdout
    assert str(env / "bin" / "python") in info
    ws.close()


def test_a_managed_local_run_before_prepare_says_how_to_prepare(project: Path,
                                                                cache: Path) -> None:
    # Given userManagedEnvironment: false and PrepareEnvironment: false (the local default)
    write(project, "aml_config/conda_dependencies.yml", CONDA)
    compute = project / "aml_config" / "local.compute"
    compute.write_text(compute.read_text() + "userManagedEnvironment: false\n")
    write(project, "a.py", "print(1)\n")
    ws = Workspace(project)
    # When a run is submitted before any prepare
    with pytest.raises(AmlError) as err:
        ws.submit("local", "a.py")
    # Then it fails in one line naming the command that prepares, and nothing was built
    message = str(err.value)
    assert "\n" not in message and "aml experiment prepare -c local" in message
    assert not (cache / "envs").exists() or not any((cache / "envs").iterdir())
    ws.close()


def test_a_user_managed_prepare_names_the_interpreter_and_the_managed_way(project: Path,
                                                                          cache: Path) -> None:
    result = aml("experiment", "prepare", "-c", "local", cwd=project, env=dict(os.environ))
    assert "user-managed" in result.stdout and "--managed" in result.stdout
    assert not (cache / "envs").exists()
