"""A saved notebook whose kernel went away before its run ended: the widget's saved fallback
says the status it last knew, when, and how to see the current one, never a bare "Preparing"
or "Running" that reads as live forever (real kernel through nbclient, real local run)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from aml_magic.domain.history.status import RunStatus
from tests._wait import wait_until

from .test_azureml_history import LOAD, execute, make_project, only_run, widget_text


@pytest.mark.kernel
def test_saved_output_of_a_run_still_going_says_it_is_the_last_known_status(
        kernel_env: Path, tmp_path: Path) -> None:
    project = make_project(tmp_path / "proj")
    gate = tmp_path / "gate-open"
    # Given a notebook that submits a run (no --wait) which goes on until the test lets it end
    executed = execute(project, "submit.ipynb", [
        LOAD, "%%aml_submit -c local --out r\nimport os, time\nprint('started', flush=True)\n"
              f"while not os.path.exists({str(gate)!r}):\n    time.sleep(0.05)",
        # the launch runs in a thread of the kernel: done before the kernel goes (a kernel
        # shut down in the middle of it leaves a run that was never launched: Failed)
        "if r.starting is not None:\n    r.starting.join(120)"])
    # When the notebook is saved and its kernel is gone while the run still goes on
    run = only_run(project)
    record = run.refresh()
    assert not record.status.is_terminal(), (record.status, record.reason)
    [shown] = widget_text(executed.cells[1])
    html = next(o.data["text/html"] for o in executed.cells[1].outputs
                if o.output_type == "display_data")
    try:
        # Then both fallbacks name the status as the last known one, with its time, and say
        # how to see the current one
        for text in (shown, html):
            assert re.search(r"(Queued|Preparing|Running) is the last known status, at "
                             r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", text), text
            assert f"%aml_run {run.id}" in text and f"aml run show {run.id}" in text
        assert 'class="aml-asof"' in html
    finally:
        gate.write_text("")
    wait_until(lambda: run.refresh().status.is_terminal(), 60, f"{run.id} ended")
    assert run.record.status is RunStatus.COMPLETED
