"""Drive the real agent: ship it into a run folder and start it the way targets do."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from aml_magic.agent import agent_files

TERMINAL = ("Completed", "Failed", "Canceled")


def ship_agent(run_dir: Path) -> Path:
    """Copy the agent's files into RUN_DIR/.agent, as a target does before launching."""
    for rel, data in agent_files().items():
        dest = run_dir / ".agent" / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
    return run_dir / ".agent" / "supervisor.py"


def launch(run_dir: Path, spec: dict[str, Any] | bytes, *, python: str = sys.executable,
           timeout: float = 10) -> subprocess.CompletedProcess[bytes]:
    supervisor = ship_agent(run_dir)
    data = spec if isinstance(spec, bytes) else json.dumps(spec).encode()
    return subprocess.run([python, "-S", "-E", str(supervisor), "launch", str(run_dir)],
                          input=data, capture_output=True, timeout=timeout)


def read_status(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "status.json").read_text())


def wait_status(run_dir: Path, states: tuple[str, ...] = TERMINAL, *,
                timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            status = read_status(run_dir)
            if status["state"] in states:
                return status
        except FileNotFoundError:
            status = None
        if time.monotonic() > deadline:
            raise AssertionError(f"status never reached {states}: {status}")
        time.sleep(0.01)


def process_gone(pid: int) -> bool:
    """Gone, or a zombie nobody reaps (PID 1 of some containers does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in (b"Z", b"X")


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    work = tmp_path / "run" / "work"
    work.mkdir(parents=True)
    return tmp_path / "run"


@pytest.fixture
def start(run_dir: Path) -> Iterator[Callable[..., dict[str, Any]]]:
    """Write a script into work/, launch it with sys.executable, return the launch answer."""
    launched: list[dict[str, Any]] = []

    def _start(script: str, *args: str, env: dict[str, str] | None = None,
               **spec: Any) -> dict[str, Any]:
        (run_dir / "work" / "script.py").write_text(script)
        full = {"run_id": "proj_1_abcd", "argv": ["python", "script.py", *args],
                "python": sys.executable, "env": env or {}, **spec}
        done = launch(run_dir, full)
        assert done.returncode == 0, done.stderr
        answer = json.loads(done.stdout)
        launched.append(answer)
        return answer

    yield _start
    for answer in launched:  # never leave a run behind
        try:
            status = read_status(run_dir)
            if status["state"] not in TERMINAL and status.get("child_pgid"):
                os.killpg(status["child_pgid"], 9)
            os.kill(answer["pid"], 9)
        except (OSError, ValueError, KeyError):
            pass
