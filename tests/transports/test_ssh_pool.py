"""Pooled SSH connections and SSH deadlines against the real OpenSSH server the suite starts
(tests/fixtures/sshd.py): reuse across submits, log reads and reconciles; reconnect after a drop;
the host key checked on every new connection; a stalled server fails within the deadline."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Callable

import pytest

from aml_magic.errors import AmlError, TargetError
from aml_magic.domain.history.status import RunStatus
from aml_magic.transports.hostkeys import ChangedHostKey
from aml_magic.transports.pool import PooledSshTransport, SshPool, ssh_pool, ssh_timeout
from aml_magic.transports.ssh import StalledPeer
from aml_magic.service.workspace import Workspace
from tests.fixtures.sshd import SshServer

pytestmark = pytest.mark.sshd
REPO = Path(__file__).resolve().parents[2]


def logins(sshd: SshServer) -> int:
    """Successful logins the server has logged: one per new TCP connection."""
    return len(re.findall(r"^.*Accepted (?:password|publickey) for ", sshd.log_text(), re.M))


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def pool() -> Iterator[SshPool]:
    """A pool of the test's own (the process-wide one is left to the other tests)."""
    own = SshPool()
    yield own
    own.close_all()


def lease(pool: SshPool, sshd: SshServer, *, io_timeout: float = 30.0, label: str = "target 'vm'",
          password: str | None = None) -> PooledSshTransport:
    return pool.acquire(sshd.host, sshd.port, sshd.username,
                        password=password or sshd.password,
                        pinned_fingerprint=sshd.host_key_fingerprint, connect_timeout=5,
                        io_timeout=io_timeout, label=label)


def ours(sshd: SshServer) -> list[int]:
    """The server processes of this test's connections: every other connection of this process
    (the process-wide pool of earlier tests) is closed first by ``fresh_server``."""
    pids = sshd.connection_pids()
    assert pids, "no sshd process serves the connection"
    return pids


@contextmanager
def paused(pids: list[int]) -> Iterator[None]:
    """The server hangs (SIGSTOP) with its TCP connection up, as a frozen or overloaded host
    would; it always resumes."""
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        resume(pids)


def resume(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


@pytest.fixture
def fresh_server(sshd: SshServer) -> SshServer:
    """No connection of earlier tests is served any more (their pools reconnect on demand)."""
    ssh_pool().close_all()
    sshd.kill_connections()
    return sshd


def one_line(error: BaseException) -> str:
    text = str(error)
    assert "\n" not in text and "Traceback" not in text
    return text


# -- reuse ----------------------------------------------------------------------------------

def test_submits_log_reads_and_reconciles_in_one_process_share_one_connection(
        project: Path, fresh_server: SshServer) -> None:
    sshd = fresh_server
    base = f".aml-test-{os.urandom(4).hex()}"
    (project / "hello.py").write_text("print('hello from the remote')\n")
    ws = Workspace(project)
    try:
        # Given a target attached in this process (attach logs in once to check the password)
        ws.attach("remote", "vm", address=f"{sshd.host}:{sshd.port}", username=sshd.username,
                  password=sshd.password, trust_new_host_key=True,
                  remote_base_dir=f"~/{base}")
        after_attach = logins(sshd)
        # When two runs are submitted, waited for (reconciles) and their logs read, the second
        # one from another Workspace after the first closed its targets (a new magic call)
        first = ws.submit("vm", "hello.py")
        assert first.wait(30) == RunStatus.COMPLETED, first.record.reason
        assert "hello from the remote" in "".join(first.logs())
        ws.close()
        again = Workspace(project)
        second = again.submit("vm", "hello.py")
        assert second.wait(30) == RunStatus.COMPLETED, second.record.reason
        assert "hello from the remote" in "".join(second.logs())
        assert again.reconcile(first.record).status == RunStatus.COMPLETED
        again.close()
        # Then the server saw no new login: all of it went over the connection attach opened
        assert logins(sshd) == after_attach
        pooled = [t for t in ssh_pool().connections() if t.port == sshd.port]
        assert len(pooled) == 1 and pooled[0].connections_opened == 1
        assert pooled[0].is_connected()  # released, not closed: warm for the next submit
    finally:
        ws.close()
        subprocess.run(["rm", "-rf", str(Path(sshd.home) / base)], check=False)


def test_leases_share_a_connection_only_with_the_same_credentials(pool: SshPool,
                                                                  sshd: SshServer) -> None:
    # Given leases for the same login, a key login and a wrong password on the same host
    a, b = lease(pool, sshd), lease(pool, sshd, label="target 'other'")
    by_key = pool.acquire(sshd.host, sshd.port, sshd.username,
                          key_path=str(sshd.client_key_path),
                          pinned_fingerprint=sshd.host_key_fingerprint)
    wrong = lease(pool, sshd, password="not-the-password")
    # Then only the same credentials share one transport
    assert a.shared is b.shared
    assert len({id(a.shared), id(by_key.shared), id(wrong.shared)}) == 3
    # And each works (or fails) on its own: the wrong password never rides on a good login
    assert a.run(["whoami"]).stdout == b.run(["whoami"]).stdout == by_key.run(["whoami"]).stdout
    with pytest.raises(TargetError, match="authentication failed"):
        wrong.run(["true"])
    assert a.shared.connections_opened == 1


def test_concurrent_threads_share_one_connection(pool: SshPool, sshd: SshServer) -> None:
    ssh = lease(pool, sshd)
    path = f"{ssh.home()}/pool-threads-{os.urandom(4).hex()}"
    ssh.write_file(path, b"shared")
    results: list[bytes] = []
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for _ in range(5):
                results.append(ssh.run(["echo", str(n)]).stdout)
                results.append(ssh.read_file(path))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ssh.run(["rm", "-f", path])
    assert errors == []
    assert sorted(results) == sorted([f"{n}\n".encode() for n in range(8)] * 5 + [b"shared"] * 40)
    assert ssh.shared.connections_opened == 1


def test_idle_connection_is_closed_and_reopened_on_demand(fresh_server: SshServer) -> None:
    sshd = fresh_server
    pool = SshPool(idle_seconds=0.2)
    try:
        # Given a released lease and one still held, on two logins
        held = lease(pool, sshd)
        held.run(["true"])
        released = pool.acquire(sshd.host, sshd.port, sshd.username,
                                key_path=str(sshd.client_key_path),
                                pinned_fingerprint=sshd.host_key_fingerprint)
        released.run(["true"])
        released.close()
        assert len(sshd.connection_pids()) >= 2
        # When both sit idle, Then the reaper closes both connections on the server too
        wait_until(lambda: pool.reap() >= 0 and not any(t.is_connected()
                                                        for t in pool.connections()),
                   "idle connections closed")
        wait_until(lambda: not sshd.connection_pids(), "the server to end both sessions")
        # And the released one is forgotten; the held one reconnects (host key checked again)
        assert pool.connections() == [held.shared]
        assert held.run(["echo", "back"]).stdout == b"back\n"
        assert held.shared.connections_opened == 2
    finally:
        pool.close_all()


# -- failures -------------------------------------------------------------------------------

def test_killed_connection_is_replaced_on_the_next_operation(pool: SshPool,
                                                            sshd: SshServer) -> None:
    ssh = lease(pool, sshd)
    assert ssh.run(["echo", "before"]).stdout == b"before\n"
    before = logins(sshd)
    # When the server processes serving it die
    assert sshd.kill_connections() >= 1
    # Then the next operations reconnect once and succeed
    assert ssh.run(["echo", "after"]).stdout == b"after\n"
    assert ssh.home() == sshd.home
    assert ssh.shared.connections_opened == 2 and logins(sshd) == before + 1


def test_changed_host_key_is_refused_on_reconnect(pool: SshPool, sshd: SshServer) -> None:
    ssh = lease(pool, sshd)
    ssh.run(["true"])
    new = sshd.restart_with_new_host_key()  # also drops the live connection
    try:
        # When the pooled connection reconnects to a server with another key, Then it refuses
        with pytest.raises(ChangedHostKey) as info:
            ssh.run(["true"])
        text = one_line(info.value)
        assert text.startswith("target 'vm': ") and new in text and "HOST KEY CHANGED" in text
    finally:
        sshd.restore_host_key()
    # And with the pinned key back, the same lease works again
    assert ssh.run(["echo", "ok"]).stdout == b"ok\n"


@pytest.mark.timeout(60)
def test_stalled_server_fails_a_command_within_the_deadline(pool: SshPool,
                                                            fresh_server: SshServer) -> None:
    ssh = lease(pool, fresh_server, io_timeout=1.5)
    ssh.run(["true"])
    # When the server hangs with the connection up
    with paused(ours(fresh_server)), pytest.raises(StalledPeer) as info:
        ssh.run(["echo", "hi"])
    # Then one line names the target, the stage and how to wait longer
    text = one_line(info.value)
    assert text.startswith("target 'vm': ssh ") and "no response from the server for 1.5 s" in text
    assert "opening a channel" in text and "sshTimeout" in text
    # And after it recovers, the next call works on a new connection
    assert ssh.run(["echo", "hi"]).stdout == b"hi\n"
    assert ssh.shared.connections_opened == 2


@pytest.mark.timeout(60)
def test_server_stalling_while_a_command_runs_is_detected(pool: SshPool,
                                                         fresh_server: SshServer) -> None:
    ssh = lease(pool, fresh_server, io_timeout=1.5)
    ssh.run(["true"])
    pids = ours(fresh_server)
    # Given a command under way, When the server hangs before it answers
    timer = threading.Timer(0.3, lambda: [os.kill(pid, signal.SIGSTOP) for pid in pids])
    timer.start()
    try:
        with pytest.raises(StalledPeer) as info:
            ssh.run(["sh", "-c", "sleep 1; echo late"])
    finally:
        timer.join()
        resume(pids)
    assert "while running 'sh'" in one_line(info.value)


@pytest.mark.timeout(60)
def test_server_stalling_mid_upload_is_detected(pool: SshPool, fresh_server: SshServer) -> None:
    ssh = lease(pool, fresh_server, io_timeout=1.5)
    dest = f"{ssh.home()}/stall-{os.urandom(4).hex()}"
    pids = ours(fresh_server)
    chunk = os.urandom(1 << 20)

    def producer(out: BinaryIO) -> None:
        for n in range(512):  # far more than the SSH window and the socket buffers hold
            if n == 4:
                for pid in pids:
                    os.kill(pid, signal.SIGSTOP)
            out.write(chunk)

    try:
        with pytest.raises(StalledPeer) as info:
            ssh.run(["sh", "-c", 'cat > "$1"', "sh", dest], stdin=producer)
    finally:
        resume(pids)
    assert "while uploading to 'sh'" in one_line(info.value)
    ssh.run(["rm", "-f", dest])


@pytest.mark.timeout(60)
def test_stalled_server_fails_a_file_read_within_the_deadline(pool: SshPool,
                                                              fresh_server: SshServer) -> None:
    ssh = lease(pool, fresh_server, io_timeout=1.5)
    home = ssh.home()  # the SFTP session is open
    with paused(ours(fresh_server)), pytest.raises(StalledPeer) as info:
        ssh.read_file(f"{home}/.bashrc")
    assert f"while reading {home}/.bashrc" in one_line(info.value)
    assert ssh.exists(f"{home}/.ssh")


def test_a_silent_command_is_not_a_stall(pool: SshPool, sshd: SshServer) -> None:
    # Given a deadline shorter than a command that prints nothing for a while
    ssh = lease(pool, sshd, io_timeout=0.6)
    # Then it is waited for: the server still answers the liveness probe
    assert ssh.run(["sh", "-c", "sleep 2; echo done"]).stdout == b"done\n"


def test_paramiko_tracebacks_never_reach_stderr() -> None:
    # Given a server that greets like SSH and then sends garbage (paramiko's transport thread
    # logs such failures at ERROR with a traceback)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]

        def garbage() -> None:
            conn, _ = server.accept()
            with conn:
                conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n" + b"\xff" * 4096)
                conn.recv(65536)

        thread = threading.Thread(target=garbage, daemon=True)
        thread.start()
        code = ("import sys\n"
                "from aml_magic.transports.ssh import SshTransport\n"
                "from aml_magic.errors import TargetError\n"
                "t = SshTransport('127.0.0.1', int(sys.argv[1]), 'u', password='p',\n"
                "                 pinned_fingerprint='SHA256:' + 'A' * 43, connect_timeout=10)\n"
                "try:\n"
                "    t.run(['true'])\n"
                "except TargetError as exc:\n"
                "    print(exc, file=sys.stderr)\n")
        result = subprocess.run([sys.executable, "-c", code, str(port)], cwd=REPO,
                                capture_output=True, text=True, timeout=60)
    # Then stderr holds our one line and nothing of paramiko's
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"127.0.0.1:{port}: cannot connect: the SSH handshake failed" in lines[0]


# -- configuration --------------------------------------------------------------------------

def test_ssh_timeout_comes_from_the_compute_file_then_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AML_MAGIC_SSH_TIMEOUT", raising=False)
    assert ssh_timeout(None) == 30.0
    monkeypatch.setenv("AML_MAGIC_SSH_TIMEOUT", "7.5")
    assert ssh_timeout(None) == 7.5
    assert ssh_timeout(12, source="vm.compute: sshTimeout") == 12.0
    from aml_magic.errors import ConfigError
    with pytest.raises(ConfigError, match=r"^vm.compute: sshTimeout: SSH timeout 'soon'"):
        ssh_timeout("soon", source="vm.compute: sshTimeout")
    monkeypatch.setenv("AML_MAGIC_SSH_TIMEOUT", "-1")
    with pytest.raises(ConfigError, match="AML_MAGIC_SSH_TIMEOUT"):
        ssh_timeout(None)



def test_ssh_timeout_of_the_compute_file_reaches_the_connection(project: Path,
                                                                sshd: SshServer) -> None:
    # Given a remote target whose .compute sets sshTimeout
    ws = Workspace(project)
    try:
        ws.attach("remote", "slowlink", address=f"{sshd.host}:{sshd.port}",
                  username=sshd.username, password=sshd.password, trust_new_host_key=True)
        compute = ws.config.compute("slowlink")
        compute.ssh_timeout = 4
        ws.config.write_compute(compute)
        assert "sshTimeout: 4" in (project / "aml_config" / "slowlink.compute").read_text()
        # When its transport is made, Then the connection uses that deadline
        transport = ws.target_for(ws.config.compute("slowlink")).transport
        assert isinstance(transport, PooledSshTransport)
        assert transport.shared.io_timeout == 4 and transport.shared.connect_timeout == 4
        assert transport.run(["echo", "ok"]).stdout == b"ok\n"
    finally:
        ws.close()


@pytest.mark.timeout(120)
def test_a_submit_whose_server_stalls_mid_upload_fails_in_one_line_and_leaves_nothing(
        project: Path, fresh_server: SshServer) -> None:
    sshd = fresh_server
    base = f".aml-test-{os.urandom(4).hex()}"
    (project / "big.bin").write_bytes(os.urandom(64 << 20))  # more than the window and buffers
    (project / "hello.py").write_text("print('hello')\n")
    ws = Workspace(project)
    pids: list[int] = []
    try:
        ws.attach("remote", "vm", address=f"{sshd.host}:{sshd.port}", username=sshd.username,
                  password=sshd.password, trust_new_host_key=True, remote_base_dir=f"~/{base}")
        compute = ws.config.compute("vm")
        compute.ssh_timeout = 2
        ws.config.write_compute(compute)

        runs = Path(sshd.home) / base / "runs"
        watcher: list[threading.Thread] = []

        def stop_once_receiving() -> None:
            wait_until(lambda: any(runs.glob("*/work")), "the remote to start receiving")
            pids.extend(ours(sshd))
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)

        def stall(message: str) -> None:  # called just before the upload starts
            if "sending" in message and not watcher:
                watcher.append(threading.Thread(target=stop_once_receiving, daemon=True))
                watcher[0].start()

        # When the server hangs while the snapshot is being uploaded
        with pytest.raises(AmlError) as info:
            ws.submit("vm", "hello.py", on_progress=stall)
    finally:
        if watcher:
            watcher[0].join(30)
        resume(pids)
        ws.close()
    # Then the submit fails with one line naming the target and the stage
    text = one_line(info.value)
    assert "target 'vm'" in text and "no response from the server for 2 s" in text
    assert "while uploading" in text
    assert pids, "the upload never started"
    # And the run is Failed with that reason, and nothing of it stays on the remote
    record = ws.runs(limit=1)[0].record
    assert record.status == RunStatus.FAILED and "while uploading" in (record.reason or "")
    run_dir = Path(sshd.home) / base / "runs" / record.run_id
    wait_until(lambda: not (run_dir / "work").exists(), "the cut upload to be removed", 30)
    incoming = Path(sshd.home) / base / "objects"
    wait_until(lambda: not any(p.name.startswith(".incoming-") for p in incoming.glob(".*")),
               "the staging folder to be removed", 30)
    subprocess.run(["rm", "-rf", str(Path(sshd.home) / base)], check=False)


def test_a_forked_child_forgets_the_parents_connections(sshd: SshServer) -> None:
    # Given a live pooled connection in this process
    ssh = lease(ssh_pool(), sshd, label="target 'fork'")
    ssh.run(["true"])
    opened = ssh.shared.connections_opened
    # When a forked child looks at the pool and closes everything it sees
    pid = os.fork()
    if pid == 0:  # the child: it must not touch the parent's sockets
        seen = len(ssh_pool().connections())
        ssh_pool().close_all()
        os._exit(0 if seen == 0 else 1)
    _, status = os.waitpid(pid, 0)
    # Then the child saw no connection, and the parent's connection is still the same one
    assert os.waitstatus_to_exitcode(status) == 0
    assert ssh.run(["echo", "still"]).stdout == b"still\n"
    assert ssh.shared.connections_opened == opened and ssh.shared.is_connected()
    ssh.close()


def test_a_key_file_attached_again_under_another_name_after_a_detach_logs_in(
        project: Path, sshd: SshServer) -> None:
    # Given a target attached with a key file, then detached (its stored copy of the key goes)
    ws = Workspace(project)
    try:
        options: dict[str, Any] = {"address": f"{sshd.host}:{sshd.port}",
                                   "username": sshd.username,
                                   "key_file": str(sshd.client_key_path),
                                   "trust_new_host_key": True}
        ws.attach("remote", "first", **options)
        ws.detach("first")
        for transport in ssh_pool().connections():     # and its connection dropped meanwhile
            if transport.port == sshd.port:
                transport.close()
        # When the same key file is attached for another target in the same process
        compute = ws.attach("remote", "second", **options)
        # Then it logs in with its own stored copy, not the deleted one of the first target
        assert compute.key_reference and "second" in compute.key_reference
    finally:
        ws.close()
