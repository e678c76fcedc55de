"""REST ``POST runs`` takes a notebook as it takes a script: its ``arguments`` are the
notebook's parameters (``--param NAME=VALUE`` or ``--NAME VALUE``); a bad one is a 400 with one
line, and the executed notebook is among the run's outputs, downloadable (real server, real
local run)."""
from __future__ import annotations

import json
from pathlib import Path

from tests.notebook_runs.test_notebook_runs import ANALYSIS, notebook
from tests.server.jupyter import JupyterServer
from tests.server.test_rest import P, wait_status


def test_rest_submits_a_notebook_and_serves_the_executed_copy(
        server: JupyterServer, lab_root: Path) -> None:
    # Given a notebook in the project
    notebook(lab_root / "proj", "analysis.ipynb", *ANALYSIS)
    # When it is submitted with a parameter
    reply = server.api("POST", "runs", params=P,
                       body={"run_configuration": "local", "script": "proj/analysis.ipynb",
                             "arguments": ["--param", "lr=0.5", "--name", "rest"]})
    assert reply.status == 201, reply.body
    run = reply.json
    assert run["command"] == ["analysis.ipynb", "--lr=0.5", "--name=rest"]
    # Then it completes, and its executed notebook is an output with the injected values
    wait_status(server, run["run_id"], "Completed", timeout=120)
    outputs = server.api("GET", f"runs/{run['run_id']}/outputs", params=P).json["outputs"]
    assert "analysis.ipynb" in [o["path"] for o in outputs]
    executed = server.api("GET", f"runs/{run['run_id']}/outputs/analysis.ipynb", params=P)
    assert executed.status == 200
    cells = json.loads(executed.body)["cells"]
    assert "lr = 0.5" in "".join(cells[1]["source"]) and "name = 'rest'" in \
        "".join(cells[1]["source"])


def test_rest_refuses_a_bad_notebook_parameter_in_one_line(server: JupyterServer,
                                                          lab_root: Path) -> None:
    notebook(lab_root / "proj", "analysis.ipynb", *ANALYSIS)
    reply = server.api("POST", "runs", params=P,
                       body={"run_configuration": "local", "script": "proj/analysis.ipynb",
                             "arguments": ["--param", "no-equals-sign"]})
    assert reply.status == 400, reply.body
    assert "expected NAME=VALUE" in reply.json["message"] and "\n" not in reply.json["message"]
