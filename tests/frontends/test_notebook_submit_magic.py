"""``%aml_submit`` takes a notebook as it takes a script: its parameters as ``--param NAME=VALUE``
or ``--NAME VALUE``, executed headless on the target (real IPython shell, real local run)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from aml_magic.domain.history.status import RunStatus
from tests.frontends.test_magics import line, project  # noqa: F401  (the magic's project)
from tests.notebook_runs.test_notebook_runs import ANALYSIS, notebook


def test_line_submit_runs_a_notebook_with_parameters(ip: Any, project: Path) -> None:  # noqa: F811
    # Given a parameterized notebook in the project
    notebook(project, "analysis.ipynb", *ANALYSIS)
    # When the line magic submits it with both spellings of a parameter
    run, cap = line(ip, "aml_submit", "-c local analysis.ipynb --param lr=2 --epochs 4 --wait")
    # Then it ran the notebook with those values
    assert run.record.status is RunStatus.COMPLETED, cap.stderr
    assert run.record.command == ["analysis.ipynb", "--lr=2", "--epochs=4"]
    assert "trained 8 int base" in run.log_text(0)[0]
