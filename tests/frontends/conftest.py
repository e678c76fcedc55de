"""Fixtures for the notebook front end: a real IPython shell with the extension loaded."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

import pytest


REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def ip() -> Any:
    """IPython's global test shell (a real InteractiveShell) with ``%load_ext aml_magic``."""
    from IPython.testing.globalipapp import get_ipython
    shell = get_ipython()
    shell.run_line_magic("load_ext", "aml_magic")
    return shell


@pytest.fixture
def magics(ip: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The registered ``AmlMagics`` with per-test state, working directory ``tmp_path``."""
    instance = ip.magics_manager.registry["AmlMagics"]
    monkeypatch.chdir(tmp_path)
    instance.workspaces.clear()
    instance.project = None
    instance.default_runconfig = None
    instance.use_widgets = None
    instance.watch_interval = 0.05
    yield instance
    instance.workspaces.clear()
    instance.project = None


@pytest.fixture
def kernel_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Environment for real kernels: the package importable, IPython's profile (and its history
    database) in a temporary IPYTHONDIR."""
    ipython_dir = tmp_path / "ipython"
    ipython_dir.mkdir()
    monkeypatch.setenv("IPYTHONDIR", str(ipython_dir))
    path = os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv("PYTHONPATH", f"{REPO}{os.pathsep}{path}" if path else str(REPO))
    return ipython_dir
