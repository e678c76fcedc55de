"""A project's own stale ./outputs/ never reaches the ``remote`` target (real sshd) nor counts as a
run's output there."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from aml_magic.history.status import RunStatus
from aml_magic.workspace import Workspace
from tests._project import write
from tests.fixtures.sshd import SshServer
from tests.targets.test_remote_target import attach

pytestmark = pytest.mark.sshd


@pytest.fixture
def remote_ws(project: Path, sshd: SshServer) -> Iterator[Workspace]:
    base = Path(sshd.home) / f".aml-test-{os.urandom(4).hex()}"
    workspace = Workspace(project)
    attach(workspace, sshd, remote_base_dir=f"~/{base.name}")
    yield workspace
    workspace.close()
    subprocess.run(["rm", "-rf", str(base)], check=False)


def test_a_remote_run_does_not_report_the_projects_stale_outputs(
        remote_ws: Workspace, project: Path) -> None:
    # Given ./outputs/stale.txt in the project and a script that lists what it finds there
    # and ignore files that do not mention outputs/ (the default alone leaves it out)
    write(project, "outputs/stale.txt", "from a run long ago\n")
    write(project, ".amlignore", "*.pyc\n")
    write(project, ".gitignore", ".aml/\n")
    write(project, "quiet.py", "import os; print(sorted(os.listdir('outputs')))\n")
    # When it runs on the remote target
    run = remote_ws.submit("vm", "quiet.py")
    assert run.wait(60) is RunStatus.COMPLETED, run.record.reason
    # Then the script saw an empty outputs/ and the run reports no outputs
    assert run.log_text()[0].strip() == "[]"
    assert run.outputs() == []
