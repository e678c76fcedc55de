"""A real ``aml server`` on the suite's PostgreSQL, and members working from their own HOME
folders (three machines): every command is a real ``aml`` process."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest

from tests._wait import process_alive, wait_until
from tests.fixtures.postgres import PostgresServer

REPO = Path(__file__).resolve().parents[2]


def member_env(home: Path) -> dict[str, str]:
    """The environment of a member's own machine: their HOME, their secret store under it."""
    env = {k: v for k, v in os.environ.items() if k != "AML_MAGIC_SECRETS_DIR"}
    env.update(HOME=str(home), PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
    return env


def aml(home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aml_magic", *args], env=member_env(home),
                          input=stdin, capture_output=True, text=True, timeout=120)


@dataclass
class TeamServer:
    url: str
    database: str
    artifacts: Path
    proc: subprocess.Popen[bytes]
    output: Path
    homes: dict[str, Path] = field(default_factory=dict)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(60)


def start_server(database: str, artifacts: Path, output: Path, home: Path,
                 *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    """``aml server start`` on a free loopback port; returns once it says where it listens."""
    log = open(output, "wb")
    try:
        proc = subprocess.Popen([sys.executable, "-m", "aml_magic", "server", "start",
                                 "--database", database, "--artifacts", str(artifacts),
                                 "--port", "0", *extra], env=member_env(home), stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    finally:
        log.close()

    def listening() -> str | None:
        found = re.search(r"listening on (https?://127\.0\.0\.1:\d+)/", output.read_text())
        if found is None and proc.poll() is not None:
            raise AssertionError(f"aml server start exited {proc.returncode}:\n"
                                 f"{output.read_text()[-3000:]}")
        return found.group(1) if found else None
    return proc, wait_until(listening, 60, "aml server says where it listens")


@pytest.fixture(scope="module")
def team_server(postgres: PostgresServer,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[TeamServer]:
    """``aml server init`` (admin ada) and ``aml server start``; stopped with SIGTERM."""
    base = tmp_path_factory.mktemp("team")
    homes = {name: base / f"home-{name}" for name in ("ada", "bob", "rex", "server")}
    for home in homes.values():
        home.mkdir()
    database = postgres.create_database()
    artifacts = base / "artifacts"
    init = aml(homes["server"], "server", "init", "--database", database, "--artifacts",
               str(artifacts), "--admin", "ada", "--token-file", str(homes["ada"] / "ada.token"))
    assert init.returncode == 0, init.stderr
    proc, url = start_server(database, artifacts, base / "server.out", homes["server"])
    server = TeamServer(url, database, artifacts, proc, base / "server.out", homes)
    try:
        yield server
    finally:
        server.stop()
        if process_alive(proc.pid):
            proc.kill()
