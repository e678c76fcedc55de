"""A notebook as a run on the ``docker`` target, against the real engine the suite starts: the
executor ships with the agent into the container and runs the notebook in the environment's
Python; without nbclient there, the run fails with one line saying what to install."""
from __future__ import annotations

from typing import Any

import nbformat
import pytest

from aml_magic.domain.history.status import RunStatus
from tests.notebook_runs.test_notebook_runs import ANALYSIS, notebook
from tests.targets.test_docker_target import CONDA, write
from tests.targets.test_docker_target import ws  # noqa: F401  (the docker project fixture)

pytestmark = pytest.mark.docker

NOTEBOOK_CONDA = CONDA.replace("    - tomli==2.0.1\n",
                               "    - tomli==2.0.1\n    - nbclient\n    - ipykernel\n")


def test_a_notebook_runs_in_the_container_with_its_parameters(ws: Any) -> None:  # noqa: F811
    # Given an environment with nbclient and ipykernel, and a parameterized notebook
    write(ws.root, "aml_config/conda_dependencies.yml", NOTEBOOK_CONDA)
    notebook(ws.root, "analysis.ipynb", *ANALYSIS)
    # When it is submitted to docker with a parameter
    run = ws.submit("docker", "analysis.ipynb", ["--param", "lr=0.5", "--name", "box"])
    # Then it completes in the container, and the executed notebook is an output
    assert run.wait(timeout=600) is RunStatus.COMPLETED, (run.record.reason, run.log_text()[0])
    assert "trained 0.5 float box" in run.log_text()[0]
    executed = nbformat.read(str(run.outputs_folder / "analysis.ipynb"), as_version=4)
    assert "lr = 0.5" in executed.cells[1].source


def test_without_nbclient_in_the_image_the_run_says_what_to_install(ws: Any) -> None:  # noqa: F811
    # Given the default small environment (no nbclient) and a notebook
    notebook(ws.root, "analysis.ipynb", *ANALYSIS)
    # When it is submitted to docker
    run = ws.submit("docker", "analysis.ipynb")
    # Then the run fails with one line naming the packages and the interpreter
    assert run.wait(timeout=300) is RunStatus.FAILED
    hint = run.record.provenance.get("hint") or ""
    assert "is not installed in" in hint and "nbclient, nbformat, ipykernel" in hint, hint
