"""Issue 23, finding 1 for ``dockerHost``: a launch spec holding secrets from the store goes
only to the engine the target was attached with. A co-author points the ``docker`` target of a
shared project at an engine of their own (a listening socket here, which records whoever
connects); the victim's next submit with a run secret is refused before any connection."""
from __future__ import annotations

import dataclasses
import socket
import threading
from pathlib import Path
from typing import Iterator

import pytest

from aml_magic.errors import SecretError
from aml_magic.service.workspace import Workspace


@pytest.fixture
def rogue_engine() -> Iterator[tuple[str, list[bytes]]]:
    """tcp://127.0.0.1:PORT and the first bytes of every connection it gets."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    seen: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.settimeout(2)
            try:
                seen.append(conn.recv(4096) or b"<connected>")
            except OSError:
                seen.append(b"<connected>")
            conn.close()
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"tcp://127.0.0.1:{server.getsockname()[1]}", seen
    server.close()
    thread.join(5)


def use_secret(ws: Workspace, target: str) -> None:
    ref = ws.store_secret("env", "API_TOKEN", "victims-token-for-runs-83")
    ws.config.write_runconfig(dataclasses.replace(ws.config.runconfig(target),
                                                  environment_variables={"API_TOKEN": ref}))
    (ws.root / "hello.py").write_text("print('hi')\n")


def test_a_run_secret_never_goes_to_an_engine_the_target_was_not_attached_with(
        project: Path, rogue_engine: tuple[str, list[bytes]]) -> None:
    url, seen = rogue_engine
    ws = Workspace(project)
    # Given 'box' attached on this machine with the docker command's own engine, its run
    # configuration using a run secret
    ws.attach("docker", "box")
    use_secret(ws, "box")
    # When a co-author points it at their engine and the victim submits
    box = project / "aml_config" / "box.compute"
    box.write_text(box.read_text() + f"dockerHost: {url}\n")
    with pytest.raises(SecretError) as refused:
        ws.submit("box", "hello.py")
    # Then it is refused in one line naming the file, both engines and how to re-attach;
    # nothing reached that engine and no run was recorded
    message = str(refused.value)
    assert "\n" not in message and "box.compute" in message and url in message
    assert "attached with the docker command's own engine" in message
    assert "re-attach" in message and "nothing was sent" in message
    assert seen == []
    assert ws.runs() == []
    # And the same for the template target no attach ever bound (made by `aml init`)
    use_secret(ws, "docker")
    template = project / "aml_config" / "docker.compute"
    template.write_text(template.read_text() + f"dockerHost: {url}\n")
    with pytest.raises(SecretError, match="not attached on this machine with that engine"):
        ws.submit("docker", "hello.py")
    assert seen == []
    ws.close()


def test_the_engine_the_target_was_attached_with_is_allowed(project: Path) -> None:
    ws = Workspace(project)
    ws.attach("docker", "box", docker_host="unix:///run/user/1000/docker.sock")
    target = ws.target_for(ws.config.compute("box"))
    target.check_secret_destination()                   # bound: allowed
    ws.config.write_compute(dataclasses.replace(ws.config.compute("box"), docker_host=None))
    with pytest.raises(SecretError, match="attached with unix:///run/user/1000/docker.sock"):
        ws.target_for(ws.config.compute("box")).check_secret_destination()
    ws.detach("box")                                    # detach forgets the binding
    ws.attach("docker", "box")
    ws.target_for(ws.config.compute("box")).check_secret_destination()
    ws.close()
