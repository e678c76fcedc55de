"""Helpers for tests that drive a real project: write files into it, run the ``aml`` CLI in a
subprocess, wait for a run's log to show something."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from tests._wait import wait_until

AML = [sys.executable, "-m", "aml_magic"]


def write(root: Path, name: str, body: str) -> None:
    """Write BODY (dedented) to ROOT/NAME, creating folders."""
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body))


def aml(*args: str, cwd: Path, check: bool = True, **kw: Any) -> subprocess.CompletedProcess[str]:
    """Run ``aml ARGS`` in CWD; with CHECK, a non-zero exit fails the test showing its output."""
    proc = subprocess.run([*AML, *args], cwd=cwd, capture_output=True, text=True, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"aml {args} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def wait_for_log(run: Any, needle: str, timeout: float = 30) -> None:
    """Wait until the run's shown log contains NEEDLE."""
    def shown() -> bool:
        run.refresh()
        return needle in run.log_text()[0]
    wait_until(shown, timeout, f"{needle!r} in the log of {run.id}")


def submit_then_sigkill(project: Path, runconfig: str, script: str) -> str:
    """Submit SCRIPT from a separate process that is SIGKILLed right after it printed the run id
    (the submitter dies while the run lives on); return that id."""
    import os
    import signal
    code = ("import time\nfrom aml_magic.service.workspace import Workspace\n"
            f"run = Workspace('.').submit({runconfig!r}, {script!r})\nprint(run.id, flush=True)\n"
            "time.sleep(600)\n")
    repo = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=project, stdout=subprocess.PIPE,
                            text=True, env=dict(os.environ, PYTHONPATH=str(repo)))
    try:
        assert proc.stdout is not None
        run_id = proc.stdout.readline().strip()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert run_id, "the submitter printed no run id"
    return run_id
