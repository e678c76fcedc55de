"""Shared fixtures. Real components (sshd, dockerd, kernels, Chromium) come from tests/fixtures/
and tests/frontends/; a test whose component is missing is skipped with the reason, except under
CI=true, where it fails (the one helper deciding that is ``tests/_require.py``).

Markers are applied here from the fixtures a test uses, so ``-m "not docker"`` really leaves out
every test that starts the Docker engine; tests that start a component another way mark
themselves explicitly.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests._require import in_ci, require, require_module  # noqa: E402  (after the path fix)

pytest_plugins = ["tests.fixtures.sshd", "tests.fixtures.dockerd", "tests.fixtures.spark",
                  "tests.fixtures.slurm", "tests.fixtures.postgres"]

# Which marker a test gets when it uses a fixture (directly or through another fixture).
MARKER_OF_FIXTURE = {
    "sshd": "sshd",
    "dockerd": "docker",
    "kernel_env": "kernel",
    "lab": "browser",
    "spark_cluster": "spark",
    "slurm_cluster": "slurm",
    "postgres": "postgres",
}

__all__ = ["MARKER_OF_FIXTURE", "in_ci", "require", "require_module"]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test by the real components its fixture closure starts."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        for fixture, marker in MARKER_OF_FIXTURE.items():
            if fixture in used and item.get_closest_marker(marker) is None:
                item.add_marker(getattr(pytest.mark, marker))


@pytest.fixture(autouse=True, scope="session")
def _user_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep the user's cache folder and settings file out of the real home folder, for every
    process the suite starts (set before any server or kernel). The settings allow
    ``networkMode: host`` for the suite's projects, as a user would (``domain/isolation.py``):
    the suite's Docker engine runs with ``--bridge=none``, so builds and runs use the host's
    network. Tests about that permission point ``AML_MAGIC_CONFIG`` elsewhere."""
    base = tmp_path_factory.getbasetemp().resolve()
    settings = tmp_path_factory.mktemp("user-settings") / "config.yml"
    settings.write_text(f"allow_unsafe_container:\n  - project: '{base}/*'\n"
                        "    options: [network_host]\n")
    values = {"AML_MAGIC_CONFIG": str(settings),
              "AML_MAGIC_CACHE_DIR": str(tmp_path_factory.mktemp("user-cache"))}
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(autouse=True)
def _isolated_secrets(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep every test's secret store out of the real home folder."""
    monkeypatch.setenv("AML_MAGIC_SECRETS_DIR", str(tmp_path_factory.mktemp("secrets")))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fresh project made by ``aml init``."""
    from aml_magic.domain.config import init_project
    root = tmp_path / "proj"
    init_project(root)
    return root
