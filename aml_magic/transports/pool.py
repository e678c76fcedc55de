"""A process-wide pool of SSH connections, so a process that lives on (a kernel, the Jupyter
server) pays for the TCP connect, key exchange and login once per target, not once per submit,
log follow or reconcile.

Connections are keyed by everything that decides who we are and whom we talk to: host, port,
user, the pinned host key and the login identity (a keyed hash of the password or key, never the
secret itself), plus the deadlines. Two targets with different credentials never share a
connection. A target holds a *lease* (``PooledSshTransport``); closing the lease hands the
connection back to the pool instead of closing it. A connection unused for ``idle_seconds`` is
closed (a later call reconnects, checking the host key again), and every connection is closed
at interpreter exit. A forked child forgets the parent's connections without touching them.
"""
from __future__ import annotations

import atexit
import hashlib
import hmac
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TypeVar

from aml_magic.errors import ConfigError, TargetError
from aml_magic.transports.base import CommandResult, TarProducer
from aml_magic.transports.ssh import IO_TIMEOUT, SshTransport

T = TypeVar("T")
IDLE_SECONDS = 300.0
TIMEOUT_ENV = "AML_MAGIC_SSH_TIMEOUT"
IDLE_ENV = "AML_MAGIC_SSH_IDLE_SECONDS"


@dataclass(frozen=True)
class PoolKey:
    host: str
    port: int
    username: str
    pinned_fingerprint: str
    identity: str  # HMAC of the credential under a per-process random key
    connect_timeout: float
    io_timeout: float


@dataclass
class _Entry:
    transport: SshTransport
    leases: int = 0


class SshPool:
    """Shared ``SshTransport`` objects, one per ``PoolKey``; thread-safe."""

    def __init__(self, *, idle_seconds: float = IDLE_SECONDS) -> None:
        self.idle_seconds = idle_seconds
        self._salt = os.urandom(32)
        self._lock = threading.Lock()
        self._entries: dict[PoolKey, _Entry] = {}
        self._wake = threading.Event()
        self._reaper: threading.Thread | None = None

    def acquire(self, host: str, port: int, username: str | None, *, pinned_fingerprint: str,
                password: str | None = None, key_path: str | None = None,
                connect_timeout: float = 10.0, io_timeout: float = IO_TIMEOUT,
                label: str = "") -> PooledSshTransport:
        """A lease on the connection for these credentials; connecting happens on first use."""
        import getpass

        username = username or getpass.getuser()
        key = PoolKey(host, int(port), username, pinned_fingerprint,
                      self._identity(password, key_path), connect_timeout, io_timeout)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                entry = _Entry(SshTransport(host, port, username, password=password,
                                            key_path=key_path,
                                            pinned_fingerprint=pinned_fingerprint,
                                            connect_timeout=connect_timeout,
                                            io_timeout=io_timeout))
                self._entries[key] = entry
            entry.leases += 1
            self._start_reaper()
        return PooledSshTransport(self, key, entry.transport, label)

    def _identity(self, password: str | None, key_path: str | None) -> str:
        if key_path is not None:    # the path too: a pooled transport reconnects with its file
            try:
                secret = (b"key\0" + os.fsencode(key_path) + b"\0"
                          + Path(key_path).expanduser().read_bytes())
            except OSError:  # the transport reports an unreadable key when it connects
                secret = b"key-path\0" + os.fsencode(key_path)
        else:
            secret = b"password\0" + (password or "").encode("utf-8")
        return hmac.new(self._salt, secret, hashlib.sha256).hexdigest()

    def release(self, key: PoolKey) -> None:
        """A lease ended; the connection stays open until it has been idle for a while."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.leases > 0:
                entry.leases -= 1

    def retain(self, key: PoolKey, transport: SshTransport) -> SshTransport:
        """A released lease is used again: count it; returns the transport to use (the pooled
        one, which differs from ``transport`` if the entry was reaped and created anew)."""
        with self._lock:
            entry = self._entries.setdefault(key, _Entry(transport))
            entry.leases += 1
            self._start_reaper()
            return entry.transport

    def reap(self) -> int:
        """Close connections idle for ``idle_seconds``; forget the ones nobody leases. Returns
        how many connections were closed."""
        closed = 0
        with self._lock:
            entries = list(self._entries.items())
        for key, entry in entries:
            was_open = entry.transport.is_connected()
            if not entry.transport.close_if_idle(self.idle_seconds):
                continue
            closed += was_open
            with self._lock:
                if entry.leases == 0 and self._entries.get(key) is entry:
                    del self._entries[key]
        return closed

    def connections(self) -> list[SshTransport]:
        """The pooled transports (for diagnostics and tests)."""
        with self._lock:
            return [entry.transport for entry in self._entries.values()]

    def close_all(self) -> None:
        """Close every connection now (interpreter exit, or a test starting clean)."""
        with self._lock:
            entries, self._entries = list(self._entries.values()), {}
            self._wake.set()
        for entry in entries:
            entry.transport.close()

    def _forget_after_fork(self) -> None:
        """In a forked child the sockets belong to the parent: drop them unclosed."""
        self._lock = threading.Lock()
        self._entries = {}
        self._wake = threading.Event()
        self._reaper = None

    def _start_reaper(self) -> None:
        if self._reaper is not None and self._reaper.is_alive():
            return
        self._wake = threading.Event()
        self._reaper = threading.Thread(target=self._reap_loop, args=(self._wake,),
                                        name="aml-ssh-pool-reaper", daemon=True)
        self._reaper.start()

    def _reap_loop(self, wake: threading.Event) -> None:
        interval = max(1.0, min(self.idle_seconds / 4, 30.0))
        while not wake.wait(interval):
            try:
                self.reap()
            except Exception:  # closing a connection must never kill the reaper
                pass
            with self._lock:
                if not self._entries:
                    self._reaper = None
                    return


class PooledSshTransport:
    """A target's lease on a pooled connection: the ``Transport`` contract, delegated. Errors
    are prefixed with the target's ``label``; ``close()`` releases rather than disconnects."""

    def __init__(self, pool: SshPool, key: PoolKey, transport: SshTransport, label: str) -> None:
        self._pool, self._key, self.shared, self.label = pool, key, transport, label
        self._released = False
        self._state = threading.Lock()

    @property
    def where(self) -> str:
        return f"{self.label} ({self.shared.where})" if self.label else self.shared.where

    def __repr__(self) -> str:
        return f"PooledSshTransport({self.where})"

    def relogin(self) -> None:
        """Log in again on the next use: what the machine decided at login (the user's
        groups, say) changed since this connection was made."""
        self.shared.close()

    def close(self) -> None:
        with self._state:
            if self._released:
                return
            self._released = True
        self._pool.release(self._key)

    @contextmanager
    def _use(self) -> Iterator[SshTransport]:
        with self._state:
            if self._released:  # used after close(): lease again rather than fail
                self._released = False
                self.shared = self._pool.retain(self._key, self.shared)
        try:
            yield self.shared
        except TargetError as exc:  # one line naming the target, same exception type
            text = str(exc)
            if self.label and not text.startswith(self.label):
                exc.args = (f"{self.label}: {text}",)
            raise

    def run(self, argv: list[str], *, stdin: bytes | TarProducer | None = None,
            timeout: float | None = None, check: bool = True) -> CommandResult:
        with self._use() as ssh:
            return ssh.run(argv, stdin=stdin, timeout=timeout, check=check)

    def stream(self, argv: list[str], *, on_line: Callable[[str], None],
               timeout: float | None = None) -> int:
        with self._use() as ssh:
            return ssh.stream(argv, on_line=on_line, timeout=timeout)

    def read_file(self, path: str, offset: int = 0, limit: int | None = None) -> bytes:
        with self._use() as ssh:
            return ssh.read_file(path, offset, limit)

    def write_file(self, path: str, data: bytes, *, mode: int | None = None) -> None:
        with self._use() as ssh:
            ssh.write_file(path, data, mode=mode)

    def put_tar(self, producer: TarProducer, dest_dir: str) -> None:
        with self._use() as ssh:
            ssh.put_tar(producer, dest_dir)

    def get_tree(self, remote_dir: str, local_dir: Path) -> list[str]:
        with self._use() as ssh:
            return ssh.get_tree(remote_dir, local_dir)

    def exists(self, path: str) -> bool:
        with self._use() as ssh:
            return ssh.exists(path)

    def makedirs(self, path: str) -> None:
        with self._use() as ssh:
            ssh.makedirs(path)

    def home(self) -> str:
        with self._use() as ssh:
            return ssh.home()


def ssh_timeout(configured: object = None, *, source: str | None = None) -> float:
    """The SSH deadline in seconds: ``sshTimeout`` from the ``.compute`` file if set, else
    ``$AML_MAGIC_SSH_TIMEOUT``, else 30 s."""
    value, origin = configured, source or "sshTimeout"
    if value is None:
        value, origin = os.environ.get(TIMEOUT_ENV) or None, TIMEOUT_ENV
    if value is None:
        return IO_TIMEOUT
    try:
        seconds = float(str(value))
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 24 * 3600:
        raise ConfigError(f"{origin}: SSH timeout {value!r} is not a number of seconds between 0 "
                          "and 86400; give e.g. sshTimeout: 30")
    return seconds


_POOL: SshPool | None = None
_POOL_LOCK = threading.Lock()


def ssh_pool() -> SshPool:
    """The process's pool (created on first use; closed at interpreter exit)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            idle = os.environ.get(IDLE_ENV)
            _POOL = SshPool(idle_seconds=float(idle) if idle else IDLE_SECONDS)
            atexit.register(_POOL.close_all)
            os.register_at_fork(after_in_child=_POOL._forget_after_fork)
        return _POOL


__all__ = ["IDLE_SECONDS", "PoolKey", "PooledSshTransport", "SshPool", "ssh_pool", "ssh_timeout"]
