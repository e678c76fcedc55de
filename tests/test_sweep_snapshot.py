"""The sweep's one snapshot, at the moments around its submit: a file edited between the
snapshot and the parent's copy of it never reaches a child under the snapshot's digest."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aml_magic.domain.history.records import RunRecord
from aml_magic.domain.history.status import RunStatus
from aml_magic.domain.snapshot import manifest as manifest_module
from aml_magic.errors import AmlError
from aml_magic.service import sweep as sweep_module
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
            assert record.started_at is None and not record.target_state.get("run_dir")
    finally:
        ws.close()
