"""The server extension's life: auto-enabled by the shipped config, its reconciler stops with
the server while runs are still active."""
from __future__ import annotations

import json
import re
import signal
from pathlib import Path

import pytest

from tests._project import write
from tests._wait import wait_until
from tests.server.jupyter import start_server

REPO = Path(__file__).resolve().parents[2]


def test_the_shipped_config_enables_the_server_extension() -> None:
    config = json.loads((REPO / "jupyter-config" / "jupyter_server_config.d" /
                         "aml_magic.json").read_text())
    assert config == {"ServerApp": {"jpserver_extensions": {"aml_magic.frontends.server": True}}}
    pyproject = (REPO / "pyproject.toml").read_text()
    assert '"jupyter-config/jupyter_server_config.d/aml_magic.json" = ' \
           '"etc/jupyter/jupyter_server_config.d/aml_magic.json"' in pyproject


def test_server_stops_cleanly_with_active_runs_being_reconciled(
        tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    # Given a server reconciling a project with a run that never ends
    from aml_magic.domain.config import init_project
    from aml_magic.service.workspace import Workspace
    root = tmp_path / "root"
    project = init_project(root / "proj")
    write(project, "long.py", """
        import time
        while True:
            time.sleep(0.1)
    """)
    server = start_server(root, tmp_path / "state", reconcile_seconds=0.1)
    run = None
    try:
        assert server.api("GET", "projects", params={"path": "proj"}).status == 200
        run = Workspace(project).submit("local", "long.py")
        wait_until(lambda: server.api("GET", "runs", params={"project": "proj"})
                   .json["active"] == 1, 30, "one active run listed")
        wait_until(lambda: "aml_magic: first reconcile pass done" in server.log_text(), 30,
                   "the reconciler's first pass")
        # When the server is asked to stop (SIGTERM, as a service manager does)
        server.proc.send_signal(signal.SIGTERM)
        # Then it exits by itself, without an error from the extension
        code = wait_until(lambda: server.proc.poll() is not None and (server.proc.returncode,),
                          30, "server process exit")
        log = server.log_text()
        assert code == (0,), log
        assert "Traceback" not in log
        assert re.search(r"aml_magic: reconciler stopped after [1-9]\d* passes", log), log
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
        if run is not None:
            run.cancel()
