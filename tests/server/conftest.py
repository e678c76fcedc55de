"""Fixtures for the REST tests: one real Jupyter server per module over a root folder holding
a real aml_magic project (made by ``aml init``) with a few scripts."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._project import write
from tests.server.jupyter import JupyterServer, start_server, stop_server

SECRET = "literal-pa55word-xyz"

SCRIPTS = {
    "train.py": """
        import os, sys
        from azureml.logging import get_azureml_logger
        logger = get_azureml_logger()
        for step in range(5):
            logger.log("loss", 1.0 / (step + 1))
        logger.log("accuracy", 0.9)
        os.makedirs("outputs/model", exist_ok=True)
        open("outputs/model/weights.bin", "wb").write(b"w" * 1000)
        print("hello", sys.argv[1:], "password is", os.environ["DB_PASSWORD"])
    """,
    "many_lines.py": """
        for i in range(3000):
            print(f"line {i:05d} " + "x" * 40)
    """,
    "long.py": """
        import time
        print("long run started", flush=True)
        while True:
            time.sleep(0.1)
    """,
}


@pytest.fixture(scope="module")
def lab_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The server's root folder; the project is ``proj/`` inside it, with a secret-looking
    literal in its local run configuration."""
    from aml_magic.domain.config import init_project, load_runconfig, write_runconfig
    root = tmp_path_factory.mktemp("root")
    project = init_project(root / "proj")
    for name, body in SCRIPTS.items():
        write(project, name, body)
    (project / "sub" / "deeper").mkdir(parents=True)
    rc_path = project / "aml_config" / "local.runconfig"
    config = load_runconfig(rc_path)
    config.environment_variables = {"DB_PASSWORD": SECRET, "PLAIN": "visible"}
    write_runconfig(config, rc_path)
    (root / "elsewhere").mkdir()
    return root


@pytest.fixture(scope="module")
def server(lab_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    state = tmp_path_factory.mktemp("jupyter-state")
    secrets_dir = tmp_path_factory.mktemp("server-secrets")
    started = start_server(lab_root, state,
                           extra_env={"AML_MAGIC_SECRETS_DIR": str(secrets_dir)})
    yield started
    stop_server(started)
