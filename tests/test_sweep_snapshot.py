"""The sweep's one snapshot, at the moments around its submit: a file edited between the
snapshot and the parent's copy of it never reaches a child under the snapshot's digest, and
the detached driver does not import the project's own modules in place of its own."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aml_magic.domain.history.records import RunRecord
from aml_magic.domain.history.status import RunStatus
from aml_magic.domain.snapshot import manifest as manifest_module
from aml_magic.errors import AmlError
from aml_magic.service import sweep as sweep_module
from aml_magic.service.run import Run
from aml_magic.service.sweep import children_of, submit_sweep
from aml_magic.service.workspace import Workspace
from tests._project import write


def _sweep_parent(ws: Workspace) -> RunRecord:
    (parent,) = [r for r in ws.store.list_runs() if r.kind == "sweep"]
    return parent


def test_an_edit_between_the_snapshot_and_its_copy_is_refused_and_nothing_runs(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The window inside ``submit``: the project is snapshotted, then copied into the parent's
    folder for every child. An edit landing in between (forced here, right after the snapshot)
    used to be copied unverified: the children ran the edited file while their digest, and
    ``project restore``, named the snapshot's."""
    write(project, "train.py", "print('version', 1)\n")
    real = manifest_module.take_snapshot

    def snapshot_then_edit(*args: Any, **kwargs: Any) -> Any:
        taken = real(*args, **kwargs)
        (project / "train.py").write_text("print('version', 2)\n")
        return taken
    monkeypatch.setattr(manifest_module, "take_snapshot", snapshot_then_edit)
    # (also where sweep.py would hold its own binding, should it import it at module level)
    monkeypatch.setattr(sweep_module, "take_snapshot", snapshot_then_edit, raising=False)
    ws = Workspace(project)
    try:
        # When the sweep is submitted with the edit landing inside that window
        with pytest.raises(AmlError, match=r"train\.py: changed while"):
            submit_sweep(ws, "local", "train.py", [], ["a=1,2"])
        # Then nothing ran: the parent and its children are Failed, no child was started
        parent = _sweep_parent(ws)
        assert parent.status is RunStatus.FAILED and "train.py" in (parent.reason or "")
        for child in children_of(parent):
            record = ws.store.get(child["run_id"])
            assert record.status is RunStatus.FAILED
            assert record.started_at is None
            assert not (ws.store.run_dir(record.run_id) / "status.json").exists()   # no agent
    finally:
        ws.close()


def test_the_driver_does_not_import_the_projects_modules_for_its_own(project: Path) -> None:
    """A project holding a module named like one the driver imports after start-up (here
    ``queue.py``): the driver must not run it (it used to start in the project folder with
    ``-m``, which puts that folder first on its ``sys.path``, and died before ``ready``)."""
    write(project, "train.py", "import sys\nprint('ran', *sys.argv[1:], flush=True)\n")
    write(project, "queue.py", "raise SystemExit(\"the project's queue.py was imported\")\n")
    ws = Workspace(project)
    try:
        parent = submit_sweep(ws, "local", "train.py", [], ["a=1,2"])
        status = Run(ws, parent.id).wait(timeout=120)
        record = ws.store.get(parent.id)
        assert status is RunStatus.COMPLETED, record.reason
        for child in children_of(record):
            log = (ws.store.run_dir(child["run_id"]) / "log.txt").read_text()
            assert f"ran --a {child['point']['a']}" in log, log
    finally:
        ws.close()
