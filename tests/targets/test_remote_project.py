"""The ``remote`` target (real sshd) and the project: its own stale ./outputs/ never reaches the
target nor counts as a run's output there; the interpreter a run used is its provenance; a sweep
there runs one child at a time."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from aml_magic.domain.history.status import RunStatus
from aml_magic.service.workspace import Workspace
from tests._project import write
from tests.fixtures.sshd import SshServer
from tests.targets.provenance_probe import PROBE, assert_recorded, probed
from tests.targets.test_remote_target import aml, attach

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


def test_the_remote_interpreter_is_recorded_as_provenance(
        remote_ws: Workspace, project: Path, sshd: SshServer) -> None:
    # Given pythonLocation as a bare name, looked up on the remote's PATH
    compute = remote_ws.config.compute("vm")
    compute.python_location = "python3"
    remote_ws.config.write_compute(compute)
    write(project, "probe.py", PROBE)
    # When a run prints the interpreter it runs under
    run = remote_ws.submit("vm", "probe.py")
    assert run.wait(60) is RunStatus.COMPLETED, run.record.reason
    seen = probed(run.log_text()[0])
    # Then the record names exactly that interpreter, the remote's own python3
    assert seen["resolved"] == os.path.realpath(sshd.python)
    assert_recorded(run.record.provenance, seen, "python3")
    # And `aml history info -o json` shows it
    shown = json.loads(aml(project, "history", "info", run.id, "-o", "json").stdout)
    assert shown["provenance"]["python"] == seen["resolved"]


def test_a_sweep_on_the_remote_target_runs_its_children_one_at_a_time(
        remote_ws: Workspace, project: Path) -> None:
    from aml_magic.service.sweep import submit_sweep
    # Given no maxConcurrentRuns in vm.compute (default: 1 slot off the local machine)
    write(project, "train.py", "import sys; print('point', sys.argv[1:])\n")
    # When a 3-point sweep is submitted to it
    parent = submit_sweep(remote_ws, "vm", "train.py", [], ["a=1,2,3"])
    assert parent.wait(120) is RunStatus.COMPLETED, parent.record.reason
    # Then every child ran its point on the remote, never two at once
    children = remote_ws.store.children(parent.id)
    assert [c.command[1:] for c in children] == [["--a", a] for a in "123"]
    for child in children:
        assert child.status is RunStatus.COMPLETED and child.target == "vm"
        assert remote_ws.run(child.run_id).log_text()[0].strip() == \
            f"point {child.command[1:]!r}"
    spans = sorted((c.started_at, c.ended_at) for c in children)
    assert all(end is not None and end <= next_start
               for (_, end), (next_start, _) in zip(spans, spans[1:])), spans
