"""Issue 23, finding 1: a stored login secret is bound to what it was stored for, against the
suite's real sshd and a second real sshd standing for a co-author's host.

A co-author who can edit the project's ``.compute`` rewrites address, port, host key pin or
user while keeping the victim's secret reference; the victim's next submit must refuse before
anything reaches that host (its own log proves no connection came), and re-attaching binds
anew. A secret stored by an older version is bound at its first successful login."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest

from aml_magic.domain.history.status import RunStatus
from aml_magic.service.workspace import Workspace
from tests.fixtures.sshd import SshServer, start_sshd

pytestmark = pytest.mark.sshd
REPO = Path(__file__).resolve().parents[2]
HELLO = "import sys\nprint('hello from', sys.argv[1:])\n"


@pytest.fixture(scope="module")
def other(sshd: SshServer) -> Iterator[SshServer]:
    """A second real sshd (its own host key, user and password): the co-author's host. It
    logs every connection (LogLevel VERBOSE: 'Connection from ...')."""
    root = Path(tempfile.mkdtemp(prefix="aml-sshd-other-"))
    server = start_sshd(root)
    try:
        server.stop()
        server.config_path.write_text(server.config_path.read_text()
                                      .replace("LogLevel INFO", "LogLevel VERBOSE"))
        server.start()
        yield server
    finally:
        server.stop()
        server.remove_user()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def victim(project: Path, sshd: SshServer) -> Iterator[Workspace]:
    """The victim's project with 'vm' attached by password to the suite's sshd."""
    ws = Workspace(project)
    base = f".aml-test-{os.urandom(4).hex()}"
    ws.attach("remote", "vm", address=f"{sshd.host}:{sshd.port}", username=sshd.username,
              password=sshd.password, trust_new_host_key=True, remote_base_dir=f"~/{base}")
    (project / "hello.py").write_text(HELLO)
    yield ws
    ws.close()
    subprocess.run(["rm", "-rf", str(Path(sshd.home) / base)], check=False)


def aml(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "aml_magic", *args], cwd=project,
                          capture_output=True, text=True, timeout=120, env=env)


def edit(compute: Path, **keys: str) -> None:
    """What the co-author does: rewrite some keys of the file, keep the rest (the reference)."""
    text = compute.read_text()
    for key, value in keys.items():
        text, count = re.subn(rf"(?m)^{key}: .*$", f"{key}: {value}", text)
        assert count == 1, (key, text)
    compute.write_text(text)


def connections(server: SshServer, since: int) -> list[str]:
    """Lines of the server's log (after offset ``since``) about a client: any connection or
    authentication attempt."""
    return [line for line in server.log_text()[since:].splitlines()
            if re.search(r"Connection from|password|Invalid user|not allowed|authenticat",
                         line, re.IGNORECASE)]


@pytest.mark.parametrize("change", ["host", "user"])
def test_an_edited_compute_never_gets_the_stored_password(
        victim: Workspace, sshd: SshServer, other: SshServer, change: str) -> None:
    project = victim.root
    compute = project / "aml_config" / "vm.compute"
    ref = re.search(r"aml-secret:password/[a-z0-9-]+", compute.read_text())
    assert ref is not None
    # Given a co-author's edit keeping the victim's password reference: the address, port and
    # pin of another host ("host"), or another user on the same host ("user")
    if change == "host":
        edit(compute, address=other.host, port=str(other.port),
             hostKeyFingerprint=other.host_key_fingerprint)
        watched, new_user = other, sshd.username
    else:
        edit(compute, username=other.username)
        watched, new_user = sshd, other.username
    since = len(watched.log_text())
    # When the victim submits
    result = aml(project, "experiment", "submit", "-c", "vm", "--wait", "hello.py", "x")
    # Then it is refused with one line naming what the password was stored for, what the file
    # says now, and how to bind it anew; nothing reached the host the file names
    assert connections(watched, since) == [], connections(watched, since)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if not line.startswith("aml: warning")]
    assert len(errors) == 1, result.stderr
    line = errors[0]
    assert f"{ref.group(0)} was stored for {sshd.username}@{sshd.host}:{sshd.port}" in line
    assert sshd.host_key_fingerprint in line and "nothing was sent" in line
    assert f"{new_user}@{watched.host}:{watched.port}" in line and "re-attach" in line
    assert sshd.password not in result.stdout + result.stderr
    assert not list((project / ".aml" / "runs").glob("*")), "no run was recorded"
    if change == "host":
        # When the victim really means the new host and re-attaches, Then it is bound anew
        victim.detach("vm")
        victim.attach("remote", "vm", address=f"{other.host}:{other.port}",
                      username=other.username, password=other.password,
                      host_key_fingerprint=other.host_key_fingerprint,
                      remote_base_dir=f"~/.aml-test-{os.urandom(4).hex()}")
        run = Workspace(project).submit("vm", "hello.py", ["again"])
        assert run.wait(timeout=60) is RunStatus.COMPLETED, run.log_text()[0]


def test_a_reference_from_an_older_version_is_bound_at_its_first_login(
        victim: Workspace, sshd: SshServer, other: SshServer) -> None:
    project = victim.root
    compute = project / "aml_config" / "vm.compute"
    # Given a password reference as an older version stored it: no binding next to it
    bindings = list(Path(os.environ["AML_MAGIC_SECRETS_DIR"]).rglob("*.binding"))
    assert len(bindings) == 1
    bindings[0].unlink()
    # When it is first used, against the host key pinned in the file
    run = Workspace(project).submit("vm", "hello.py", ["first"])
    assert run.wait(timeout=60) is RunStatus.COMPLETED, run.log_text()[0]
    # Then it is bound to that host
    assert bindings[0].exists()
    assert f'"port": {sshd.port}' in bindings[0].read_text()
    # and a later edit pointing it elsewhere is refused like any other
    edit(compute, address=other.host, port=str(other.port),
         hostKeyFingerprint=other.host_key_fingerprint)
    since = len(other.log_text())
    result = aml(project, "experiment", "submit", "-c", "vm", "hello.py")
    assert result.returncode != 0 and "was stored for" in result.stderr
    assert connections(other, since) == []


def test_run_secrets_go_only_to_a_target_with_a_bound_login(
        project: Path, other: SshServer, monkeypatch: Any) -> None:
    # Given a run secret of the victim's, and a target a co-author added: their own host, its
    # password written in the file, with a run configuration using the victim's reference
    ws = Workspace(project)
    ref = ws.store_secret("env", "API_TOKEN", "victims-api-token-4411")
    (project / "aml_config" / "theirs.compute").write_text(
        f"type: remote\naddress: {other.host}:{other.port}\nusername: {other.username}\n"
        f"password: {other.password}\nhostKeyFingerprint: {other.host_key_fingerprint}\n")
    (project / "aml_config" / "theirs.runconfig").write_text(
        f"Target: theirs\nFramework: Python\nEnvironmentVariables:\n  API_TOKEN: \"{ref}\"\n")
    (project / "hello.py").write_text(HELLO)
    since = len(other.log_text())
    # When the victim submits it
    result = aml(project, "experiment", "submit", "-c", "theirs", "hello.py")
    # Then it is refused, naming the file and how to attach it; nothing reached that host
    assert connections(other, since) == []
    assert result.returncode != 0
    assert "theirs.compute" in result.stderr and "not a secret attached on this machine" \
        in result.stderr, result.stderr
    ws.close()
