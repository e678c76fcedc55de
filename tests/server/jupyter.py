"""A real Jupyter server with the aml_magic extension, started as a subprocess on 127.0.0.1 with
a token, and a small HTTP client for its REST API (standard library only)."""
from __future__ import annotations

import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests._wait import wait_until

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str]

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class JupyterServer:
    """The server process and how to call it."""

    port: int
    token: str
    root: Path
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                body: Any = None, token: bool = True,
                headers: dict[str, str] | None = None) -> Response:
        """METHOD /PATH?PARAMS with a JSON BODY; with TOKEN the Authorization header."""
        query = "?" + urllib.parse.urlencode(params) if params else ""
        sent = dict(headers or {})
        if token:
            sent.setdefault("Authorization", f"token {self.token}")
        data: bytes | None = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path + query, body=data, headers=sent)
            reply = conn.getresponse()
            return Response(reply.status, reply.read(),
                            {k.lower(): v for k, v in reply.getheaders()}
                            | {"set-cookie": "\n".join(reply.headers.get_all("Set-Cookie")
                                                        or [])})
        finally:
            conn.close()

    def api(self, method: str, route: str, **kw: Any) -> Response:
        return self.request(method, "/aml/api/" + route, **kw)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(root: Path, state: Path, *, reconcile_seconds: float = 0.5,
                 extra_env: dict[str, str] | None = None) -> JupyterServer:
    """Start ``jupyter server`` over ROOT (its files and config under STATE), wait until it
    answers, and return it; the worktree's aml_magic is first on its path."""
    token = secrets.token_hex(16)
    port = free_port()
    env = dict(os.environ)
    env.update({
        "PYTHONPATH": os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "JUPYTER_CONFIG_DIR": str(state / "config"), "JUPYTER_DATA_DIR": str(state / "data"),
        "JUPYTER_RUNTIME_DIR": str(state / "runtime"), "JUPYTER_PLATFORM_DIRS": "1",
    })
    env.update(extra_env or {})
    log_path = state / "server.log"
    args = [sys.executable, "-m", "jupyter_server", "--no-browser", f"--port={port}",
            "--ip=127.0.0.1", "--ServerApp.port_retries=0", "--allow-root",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            f"--AmlMagicExtension.reconcile_interval={reconcile_seconds}"]
    (state / "config").mkdir(parents=True, exist_ok=True)
    (state / "config" / "jupyter_server_config.json").write_text(json.dumps(
        {"ServerApp": {"jpserver_extensions": {"aml_magic.frontends.server": True}}}))
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(args, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = JupyterServer(port, token, root, proc, log_path)

    def answers() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"jupyter server exited {proc.returncode}:\n{server.log_text()}")
        try:
            return server.request("GET", "/api/status").status == 200
        except OSError:
            return False
    wait_until(answers, 60, "jupyter server answering on /api/status", interval=0.1)
    return server


def stop_server(server: JupyterServer) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()
