"""Workbench's notebook habits in a real kernel with ``%load_ext aml_magic``, outside a run: the
data-preparation package read with ``azureml.dataprep`` (and its pre-release name ``dataprep``),
and ``azureml.logging`` saying, once, that nothing is recorded while history is off, then logging
into the notebook's run once ``%azureml history on``."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.dataprep.test_runs import iris_project

from .test_azureml_history import execute, make_project, metric_values, only_run, streams

pytestmark = pytest.mark.kernel


def test_dataprep_and_logging_in_the_notebook_kernel(kernel_env: Path, tmp_path: Path) -> None:
    # Given a project with the Iris sample's package
    project = make_project(tmp_path / "proj")
    iris_project(project)
    # When a notebook reads it the Workbench ways and logs before and after `history on`
    nb = execute(project, "iris.ipynb", [
        "%load_ext aml_magic",
        "from azureml.dataprep import package\n"
        "df = package.run('iris.dprep', dataflow_idx=0, spark=False)\n"
        "print(df.shape, list(df.columns)[-1], type(df).__module__.split('.')[0])",
        "from dataprep.Package import Package\n"
        "print(Package.open_package('iris.dprep').dataflows[0].get_dataframe().equals(df))",
        "from azureml.logging import get_azureml_logger\nlogger = get_azureml_logger()\n"
        "logger.log('rows', len(df))\nlogger.log('rows', len(df))",
        "%azureml history on",
        "logger.log('rows', len(df))",
        "%azureml history off",
    ], session_name=str(project / "iris.ipynb"))
    assert all(o.output_type != "error" for c in nb.cells for o in c.outputs)
    # Then the package reads into pandas in the kernel, under both names
    assert streams(nb.cells[1], "stdout") == "(3, 5) Species pandas\n"
    assert streams(nb.cells[2], "stdout") == "True\n"
    # And logging with history off prints one clear note (once) and records nothing
    note = streams(nb.cells[3], "stderr")
    assert note.count("metrics are not recorded") == 1 and "%azureml history on" in note
    # And with history on it logs into the notebook's run
    run = only_run(project)
    assert metric_values(run) == {"rows": [3]}
