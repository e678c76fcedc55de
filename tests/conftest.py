"""Shared fixtures. Real components (sshd, dockerd, Chromium) come from tests/fixtures/; a test
whose component is missing is skipped with the reason, except under CI=true, where it fails."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

IN_CI = os.environ.get("CI") == "true"

pytest_plugins = ["tests.fixtures.sshd", "tests.fixtures.dockerd"]


def require(condition: bool, reason: str) -> None:
    """Skip (or, under CI, fail) when a real component the test needs is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"missing under CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _isolated_secrets(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep every test's secret store out of the real home folder."""
    monkeypatch.setenv("AML_MAGIC_SECRETS_DIR", str(tmp_path_factory.mktemp("secrets")))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fresh project made by ``aml init``."""
    from aml_magic.config import init_project
    root = tmp_path / "proj"
    init_project(root)
    return root
