"""``%%aml_submit --sweep`` and ``%aml_submit ... --sweep`` through a real IPython shell, on the
real local target (the style of test_magics.py)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aml_magic.domain.history.status import RunStatus
from tests.frontends.test_magics import cell, line, one_error_line

SWEEP_CELL = """\
import sys
print("point", sys.argv[1:])
"""


@pytest.fixture
def project(ip: Any, magics: Any, tmp_path: Path) -> Path:
    _, cap = line(ip, "aml_init", "proj")
    assert "Project ready" in cap.stdout
    with open(tmp_path / "proj" / "aml_config" / "local.compute", "a") as fh:
        fh.write("maxConcurrentRuns: 2\n")
    return tmp_path / "proj"


def test_cell_sweep_runs_the_cell_over_the_grid(ip: Any, project: Path) -> None:
    # When a cell is submitted with two --sweep options and --wait
    parent, cap = cell(ip, "aml_submit", "-c local --name sweep_cell.py --wait "
                       "--sweep lr=0.1,0.01 --sweep layers=2", SWEEP_CELL)
    # Then the returned run is the Completed parent, whose two children ran the exported cell
    assert f"sweep {parent.id}: 2 child runs, at most 2 at a time" in cap.stdout
    assert parent.record.kind == "sweep" and parent.refresh().status is RunStatus.COMPLETED
    ws = parent.workspace
    children = [ws.run(c["run_id"]) for c in parent.record.config_snapshot["sweep"]["children"]]
    assert [c.record.command for c in children] == [
        ["sweep_cell.py", "--lr", "0.1", "--layers", "2"],
        ["sweep_cell.py", "--lr", "0.01", "--layers", "2"]]
    for child in children:
        assert child.record.parent_run_id == parent.id
        assert child.record.status is RunStatus.COMPLETED
        assert f"point {child.record.command[1:]!r}" in child.log_text(0)[0]


def test_line_sweep_with_placeholders_then_cancel(ip: Any, project: Path) -> None:
    (project / "wait.py").write_text("import sys, time\nprint('n', sys.argv[1:], flush=True)\n"
                                     "time.sleep(120)\n")
    parent, _ = line(ip, "aml_submit", "-c local wait.py --n={n} --sweep n=1,2,3")
    ws = parent.workspace
    ids = [c["run_id"] for c in parent.record.config_snapshot["sweep"]["children"]]
    assert [ws.run(i).record.command for i in ids] == [["wait.py", f"--n={n}"] for n in "123"]
    from tests._wait import wait_until
    wait_until(lambda: [ws.run(i).refresh().status for i in ids[:2]] ==
               [RunStatus.RUNNING] * 2, 120, "two children running")
    _, cap = line(ip, "aml_cancel", parent.id)
    assert "Canceled" in cap.stdout
    assert [ws.run(i).refresh().status for i in ids] == [RunStatus.CANCELED] * 3


def test_bad_sweep_in_a_magic_is_one_line(ip: Any, project: Path) -> None:
    result, cap = cell(ip, "aml_submit", "-c local --sweep lr", SWEEP_CELL)
    assert result is None
    assert "--sweep 'lr'" in one_error_line(cap)
