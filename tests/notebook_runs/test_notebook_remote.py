"""A notebook as a run on a ``remote`` target (the real OpenSSH server the suite starts) whose
Python lacks nbclient: the executor ships with the agent, and the run fails with one line
naming the interpreter and what to install there."""
from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from aml_magic.domain.history.status import RunStatus
from aml_magic.service.workspace import Workspace
from tests.fixtures.sshd import SshServer
from tests.notebook_runs.test_notebook_runs import ANALYSIS, notebook
from tests.targets.test_remote_target import attach, remote_base  # noqa: F401

pytestmark = pytest.mark.sshd
SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.fixture
def ws(project: Path, sshd: SshServer, remote_base: Path) -> Iterator[Workspace]:  # noqa: F811
    workspace = Workspace(project)
    attach(workspace, sshd, remote_base_dir=f"~/{remote_base.name}",
           python_location=SYSTEM_PYTHON)
    yield workspace
    workspace.close()


def test_a_remote_python_without_nbclient_says_what_to_install(ws: Workspace) -> None:
    # Given a remote whose interpreter has no nbclient (Debian's own Python)
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import nbclient"], capture_output=True)
    assert probe.returncode != 0, "this test needs a Python without nbclient"
    notebook(ws.root, "analysis.ipynb", *ANALYSIS)
    # When a notebook is submitted there
    run = ws.submit("vm", "analysis.ipynb", ["--param", "lr=0.5"])
    # Then the run fails with one line naming the interpreter and the packages
    assert run.wait(timeout=120) is RunStatus.FAILED
    hint = run.record.provenance.get("hint") or ""
    assert f"is not installed in {SYSTEM_PYTHON}" in hint, hint
    assert "pip install nbclient nbformat ipykernel" in hint
