"""One JupyterLab for the sidebar's component tests (starting Lab costs more than most tests),
and per test a fresh project folder under its root, so the tests share no runs or targets."""
from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from ..browser import Lab, jupyterlab
from ..sidebar_page import lab_env, require_lab
from .pages import LabProject


@pytest.fixture(scope="package")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """JupyterLab on loopback over an empty root; its secret store in a temporary folder (the
    per-test secrets fixture runs after a package fixture, so it is given here)."""
    require_lab()
    root = tmp_path_factory.mktemp("labroot")
    env = {**lab_env(), "AML_MAGIC_SECRETS_DIR": str(tmp_path_factory.mktemp("labsecrets"))}
    with jupyterlab(root, tmp_path_factory.mktemp("labstate"), env=env,
                    ready_path="aml/api/version") as lab:
        yield lab


@pytest.fixture
def lab(lab_server: Lab, request: pytest.FixtureRequest) -> LabProject:
    """A fresh project named after the test, in the shared JupyterLab."""
    from aml_magic.domain.config import init_project
    name = "p_" + re.sub(r"\W", "_", request.node.name.removeprefix("test_"))[:40]
    return LabProject(lab_server, name, init_project(lab_server.root / name))
