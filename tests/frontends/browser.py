"""The browser tests' real components: headless Chromium (Debian's own binary, never
`playwright install`, with the flags a sandbox-less, offline CI machine needs) and a
JupyterLab server on loopback."""
from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests._require import require
from tests._wait import wait_until

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def require_chromium() -> None:
    require(os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} not installed (apt-get install chromium)")


@contextlib.contextmanager
def chromium_page(width: int, height: int) -> Iterator[Any]:
    """A page of a fresh headless Chromium, closed (with the browser) on the way out."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


@dataclass
class Lab:
    """A JupyterLab server the suite started on loopback."""
    base: str
    token: str
    root: Path
    log: Path

    def url(self, path: str) -> str:
        return f"{self.base}/{path}?token={self.token}"


@contextlib.contextmanager
def jupyterlab(root: Path, tmp_path: Path, *, env: dict[str, str] | None = None,
               ready_path: str = "api/status") -> Iterator[Lab]:
    """JupyterLab serving ROOT (its state under TMP_PATH), answering on READY_PATH; stopped
    by pid on the way out. No update checks, no news, no extension manager: offline CI."""
    from tests.server.jupyter import free_port
    token, port = secrets.token_hex(16), free_port()
    full_env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "jcfg"),
                    JUPYTER_RUNTIME_DIR=str(tmp_path / "jrt"), **(env or {}))
    log_path = tmp_path / "lab.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser",
             f"--IdentityProvider.token={token}", f"--port={port}", "--ip=127.0.0.1",
             f"--ServerApp.root_dir={root}", "--ServerApp.port_retries=0",
             "--LabApp.expose_app_in_browser=True",
             f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}", "--LabApp.news_url=",
             "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
             "--LabApp.extension_manager=readonly"]
            + (["--allow-root"] if os.geteuid() == 0 else []),
            cwd=root, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    lab = Lab(f"http://127.0.0.1:{port}", token, root, log_path)

    def answers() -> bool:
        if proc.poll() is not None:
            raise AssertionError("jupyter lab exited:\n" + log_path.read_text()[-3000:])
        try:
            with urllib.request.urlopen(lab.url(ready_path), timeout=2):
                return True
        except OSError:
            return False
    try:
        wait_until(answers, 60, f"JupyterLab answering on /{ready_path}", interval=0.2)
        yield lab
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
