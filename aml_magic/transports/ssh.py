"""The SSH transport (paramiko): the same contract as ``LocalTransport``, over one connection.

Host keys are always checked against the pin from the ``.compute`` file (see ``hostkeys``), on
every new connection. Commands go through the remote shell, so ``argv`` is joined with
``shlex.join``. A dropped connection is re-established with bounded backoff on the next call;
calls that are safe to repeat are repeated once, a command that may already have started is not.

Every operation has a deadline (``io_timeout``): a request the server does not answer, an upload
that makes no progress, or a command whose server stops answering a liveness probe fails with
``StalledPeer`` naming the stage, and the connection is closed (the next call opens a new one).
A command that is merely silent (``sleep``, a quiet log) is not a stall: the server still
answers the probe.
"""
from __future__ import annotations

import functools
import io
import os
import posixpath
import shlex
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Concatenate, ParamSpec, TypeVar

from aml_magic.errors import HostKeyError, TargetError, UnsafeRunFile
from aml_magic.transports.base import READ_LIMIT, CommandResult, TarProducer
from aml_magic.transports.sftp_tree import download_tree
from aml_magic.transports.ssh_channel import CHUNK, ConnectionLost, Progress, pump_command
from aml_magic.transports.ssh_connect import (
    WINDOW, AuthenticationFailed, LivenessProbe, StalledPeer, open_connection
)

if TYPE_CHECKING:
    import paramiko

T = TypeVar("T")
P = ParamSpec("P")
IO_TIMEOUT = 30.0
TIMEOUT_HINT = "raise sshTimeout in the .compute file (or AML_MAGIC_SSH_TIMEOUT) to wait longer"


def _operation(method: Callable[Concatenate[SshTransport, P], T]
               ) -> Callable[Concatenate[SshTransport, P], T]:
    """Counts the call as in flight, so the pool never closes a connection that is in use."""

    @functools.wraps(method)
    def wrapper(self: SshTransport, *args: P.args, **kwargs: P.kwargs) -> T:
        self._begin()
        try:
            return method(self, *args, **kwargs)
        finally:
            self._end()

    return wrapper


class SshTransport:
    """Commands and files on one SSH host, authenticated by password or private key.
    Thread-safe: channels run in parallel, SFTP calls one at a time."""

    def __init__(self, host: str, port: int = 22, username: str | None = None, *,
                 password: str | None = None, key: str | None = None, key_path: str | None = None,
                 pinned_fingerprint: str | None = None, connect_timeout: float = 10.0,
                 io_timeout: float = IO_TIMEOUT, reconnect_attempts: int = 6,
                 reconnect_timeout: float = 30.0) -> None:
        import getpass

        self.host, self.port = host, int(port)
        self.username = username or getpass.getuser()
        self.pinned_fingerprint = pinned_fingerprint
        self.connect_timeout, self.io_timeout = connect_timeout, io_timeout
        self.reconnect_attempts, self.reconnect_timeout = reconnect_attempts, reconnect_timeout
        self._password, self._key_text, self._key_path = password, key, key_path
        self._conn: paramiko.Transport | None = None
        self._sftp: Any = None
        self._home: str | None = None
        self._ever_connected = False
        self._lock = threading.RLock()  # guards connecting and the (not thread-safe) SFTP client
        self._probe = LivenessProbe()
        self._activity = threading.Lock()
        self._busy = 0
        self._last_used = time.monotonic()
        self.connections_opened = 0  # how many TCP connections this transport has made

    @property
    def where(self) -> str:
        return f"ssh {self.username}@{self.host}:{self.port}"

    def __repr__(self) -> str:  # never shows the password
        return f"SshTransport({self.where})"

    def __enter__(self) -> SshTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- use, for the pool ------------------------------------------------------------------

    def _begin(self) -> None:
        with self._activity:
            self._busy += 1

    def _end(self) -> None:
        with self._activity:
            self._busy -= 1
            self._last_used = time.monotonic()

    def close_if_idle(self, idle_seconds: float) -> bool:
        """Close the connection if nothing used it for ``idle_seconds`` and nothing is in flight;
        a later call reconnects (checking the host key again). True when it was closed."""
        with self._activity:
            if self._busy or time.monotonic() - self._last_used < idle_seconds:
                return False
            if not self._lock.acquire(blocking=False):
                return False
            try:
                self.close()
            finally:
                self._lock.release()
            return True

    # -- connection -------------------------------------------------------------------------

    def is_connected(self) -> bool:
        conn = self._conn
        return bool(conn is not None and conn.is_active())

    def ensure_connected(self) -> paramiko.Transport:
        """Return a live connection; (re)connect if needed. The first connection is tried once
        (fail fast); after a drop, retries back off up to ``reconnect_attempts``/``reconnect_timeout``."""
        with self._lock:
            conn = self._conn
            if conn is not None and conn.is_active():
                return conn
            self._drop()
            if not self._ever_connected:
                conn = self._connect_once()
                self._ever_connected = True
                return conn
            deadline, delay, attempt = time.monotonic() + self.reconnect_timeout, 0.25, 0
            while True:
                attempt += 1
                try:
                    return self._connect_once()
                except (HostKeyError, AuthenticationFailed, StalledPeer):
                    raise
                except TargetError as exc:
                    left = deadline - time.monotonic()
                    if attempt >= self.reconnect_attempts or left <= 0:
                        raise TargetError(f"{exc} (gave up reconnecting after {attempt} attempts)") from None
                    time.sleep(min(delay, left))
                    delay = min(delay * 2, 8.0)

    def _connect_once(self) -> paramiko.Transport:
        self._conn = open_connection(
            host=self.host, port=self.port, username=self.username, password=self._password,
            pkey=self._load_key(), pinned_fingerprint=self.pinned_fingerprint,
            timeout=self.connect_timeout, where=self.where)
        self.connections_opened += 1
        return self._conn

    def _load_key(self) -> Any:
        if self._key_text is None and self._key_path is None:
            return None
        import paramiko

        if self._key_path is not None:
            try:
                return paramiko.PKey.from_path(os.path.expanduser(self._key_path))
            except (OSError, ValueError, paramiko.SSHException) as exc:
                raise TargetError(f"{self.where}: cannot load private key {self._key_path}: {exc}") from None
        for cls in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
            try:
                return cls.from_private_key(io.StringIO(self._key_text or ""))
            except (paramiko.SSHException, ValueError):
                continue
        raise TargetError(f"{self.where}: the stored private key cannot be read (not an Ed25519, "
                          "ECDSA or RSA key); re-attach with a new key")

    def _drop(self, conn: paramiko.Transport | None = None) -> None:
        """Close the connection (only ``conn`` if given: another thread may have replaced it)."""
        with self._lock:
            if conn is not None and conn is not self._conn:
                _quietly_close(conn)
                return
            for obj in (self._sftp, self._conn):
                if obj is not None:
                    _quietly_close(obj)
            self._sftp = self._conn = None

    def close(self) -> None:
        """Close the connection; the next call connects like the first one (fail fast)."""
        with self._lock:
            self._drop()
            self._ever_connected = False

    def _stalled(self, stage: str, seconds: float | None = None) -> StalledPeer:
        waited = self.io_timeout if seconds is None else seconds
        return StalledPeer(f"{self.where}: no response from the server for {waited:g} s while "
                           f"{stage}; the connection was closed ({TIMEOUT_HINT})")

    @contextmanager
    def _deadline(self, conn: paramiko.Transport, stage: str) -> Iterator[None]:
        """Bound a paramiko call that waits without a timeout of its own: past ``io_timeout``
        the connection is closed, which ends the wait, and the failure names ``stage``."""
        fired = threading.Event()

        def expire() -> None:
            fired.set()
            _quietly_close(conn)

        timer = threading.Timer(self.io_timeout, expire)
        timer.daemon = True
        timer.start()
        try:
            yield
        except Exception:
            if fired.is_set():
                raise self._stalled(stage) from None
            raise
        finally:
            timer.cancel()

    def _call(self, what: str, fn: Callable[[], T], *, repeatable: bool) -> T:
        """Run ``fn`` on a live connection; map failures to ``TargetError``; after a drop,
        reconnect and (if ``repeatable``) run it once more."""
        import paramiko

        for attempt in (1, 2):
            conn = self.ensure_connected()
            try:
                return fn()
            except StalledPeer:
                self._drop(conn)
                raise
            except TimeoutError:  # an SFTP request the server never answered
                self._drop(conn)
                raise self._stalled(what) from None
            except (ConnectionLost, paramiko.SSHException, EOFError, OSError) as exc:
                dropped = isinstance(exc, ConnectionLost) or not _still_alive(conn)
                if not dropped:
                    raise TargetError(f"{self.where}: {what} failed: {exc}") from None
                self._drop(conn)
                if not repeatable or attempt == 2:
                    raise TargetError(f"{self.where}: connection lost during {what}; it may or may not "
                                      "have completed on the target") from None
        raise AssertionError("unreachable")

    # -- commands ---------------------------------------------------------------------------

    def _start(self, command: str, *, combine: bool) -> tuple[paramiko.Transport, Any]:
        conn = self.ensure_connected()
        with self._deadline(conn, "opening a channel"):
            # paramiko's own timeout comes later: the deadline above names the stage
            chan = conn.open_session(window_size=WINDOW, timeout=self.io_timeout + 5)
            chan.set_combine_stderr(combine)
            chan.exec_command(command)
        return conn, chan

    def _exec(self, argv: list[str], *, feed: Callable[[BinaryIO], None] | None,
              on_stdout: Callable[[bytes], None], combine: bool, timeout: float | None) -> tuple[int, bytes]:
        """Run one command; return ``(exit_code, stderr)``. A stall closes the connection and
        raises ``StalledPeer``; a drop raises ``TargetError`` (never repeated: it may have run)."""
        command = shlex.join([str(a) for a in argv])
        conn, chan = self._call(f"starting {argv[0]!r}",
                                lambda: self._start(command, combine=combine), repeatable=True)
        try:
            return pump_command(conn, chan, argv, where=self.where, feed=feed,
                                on_stdout=on_stdout, combine=combine, timeout=timeout,
                                io_timeout=self.io_timeout, stalled=self._stalled,
                                check_alive=lambda progress, stage: self._check_alive(
                                    conn, progress, stage))
        except StalledPeer:
            self._drop(conn)
            raise
        except ConnectionLost:
            self._drop(conn)
            raise TargetError(f"{self.where}: connection lost while running {argv[0]!r}; it may "
                              "still be running or have finished on the target") from None

    def _check_alive(self, conn: paramiko.Transport, progress: Progress, stage: str) -> None:
        """After half the deadline without a byte, ask the server for a reply within the other
        half: a silent command keeps going, a stalled server fails the call."""
        half = self.io_timeout / 2
        if time.monotonic() - progress.any < half:
            return
        if not self._probe.answers(conn, half):
            raise self._stalled(stage)
        progress.received()

    @_operation
    def run(self, argv: list[str], *, stdin: bytes | TarProducer | None = None,
            timeout: float | None = None, check: bool = True) -> CommandResult:
        """``stdin`` may be bytes or a producer writing a stream (e.g. a header then a tar), so
        one command can both receive a large upload and answer on stdout."""
        out = bytearray()
        feed: Callable[[BinaryIO], None] | None = None
        if callable(stdin):
            feed = stdin
        elif stdin:
            data = stdin

            def feed(out: BinaryIO) -> None:
                out.write(data)
        code, err = self._exec(argv, feed=feed, on_stdout=out.extend, combine=False,
                               timeout=timeout)
        if check and code != 0:
            tail = err.decode("utf-8", "replace").strip()[-500:]
            raise TargetError(f"{self.where}: {argv[0]!r} exited with {code}: {tail}")
        return CommandResult(code, bytes(out), err)

    @_operation
    def stream(self, argv: list[str], *, on_line: Callable[[str], None],
               timeout: float | None = None) -> int:
        """Run ``argv`` with stderr merged into stdout, calling ``on_line`` per line (no newline)."""
        pending = bytearray()

        def feed_lines(data: bytes) -> None:
            pending.extend(data)
            *lines, rest = bytes(pending).split(b"\n")
            pending[:] = rest
            for line in lines:
                on_line(line.decode("utf-8", "replace"))

        code, _ = self._exec(argv, feed=None, on_stdout=feed_lines, combine=True, timeout=timeout)
        if pending:
            on_line(bytes(pending).decode("utf-8", "replace"))
        return code

    @_operation
    def put_tar(self, producer: TarProducer, dest_dir: str) -> None:
        """Extract the tar that ``producer`` writes into ``dest_dir`` over one exec channel."""
        dest = self._abs(dest_dir)
        script = 'mkdir -p -- "$1" && exec tar -x -f - -C "$1"'
        code, err = self._exec(["sh", "-c", script, "sh", dest], feed=producer,
                               on_stdout=lambda _: None, combine=False, timeout=None)
        if code != 0:
            tail = err.decode("utf-8", "replace").strip()[-500:]
            raise TargetError(f"{self.where}: extracting into {dest} failed ({code}): {tail}")

    # -- files (SFTP) -----------------------------------------------------------------------

    def _sftp_client(self) -> Any:
        import paramiko

        with self._lock:
            conn = self.ensure_connected()
            if self._sftp is None:
                with self._deadline(conn, "starting SFTP"):
                    self._sftp = paramiko.SFTPClient.from_transport(conn, window_size=WINDOW)
                if self._sftp is None:
                    raise TargetError(f"{self.where}: the server refused the SFTP subsystem")
                self._sftp.get_channel().settimeout(self.io_timeout)
            return self._sftp

    @_operation
    def home(self) -> str:
        if self._home is None:
            self._home = self._call("finding the home folder",
                                    lambda: self._sftp_client().normalize("."), repeatable=True)
        return self._home

    def _abs(self, path: str) -> str:
        """Resolve ``~``, ``~/x`` and relative paths against the remote home (resolved once)."""
        if path == "~" or path.startswith("~/"):
            return posixpath.join(self.home(), path[2:]) if path != "~" else self.home()
        if path.startswith("~"):
            raise TargetError(f"{self.where}: {path!r}: only '~' of the login user is supported")
        return path if path.startswith("/") else posixpath.join(self.home(), path)

    @_operation
    def read_file(self, path: str, offset: int = 0, limit: int | None = None) -> bytes:
        full = self._abs(path)
        cap = READ_LIMIT if limit is None else limit

        def read() -> bytes:
            with self._lock:
                try:   # a run may plant a symlink, FIFO or device: never open one
                    if not stat.S_ISREG(self._sftp_client().lstat(full).st_mode or 0):
                        raise UnsafeRunFile(f"{self.where}: {full} is a symlink or special "
                                            "file; not read")
                    fh = self._sftp_client().open(full, "rb")
                except FileNotFoundError:
                    return b""
                with fh:
                    size = fh.stat().st_size or 0
                    end = min(size, offset + cap)
                    if end <= offset:
                        return b""
                    fh.seek(offset)
                    if end - offset > CHUNK:
                        fh.prefetch(end)
                    return bytes(fh.read(end - offset))

        return self._call(f"reading {full}", read, repeatable=True)

    @_operation
    def write_file(self, path: str, data: bytes, *, mode: int | None = None) -> None:
        """Write to a temporary name next to ``path`` and rename it over: readers never see half."""
        full = self._abs(path)
        tmp = f"{full}.tmp-{os.urandom(4).hex()}"

        def write() -> None:
            with self._lock:
                sftp = self._sftp_client()
                try:
                    fh = sftp.open(tmp, "wb")
                except FileNotFoundError:
                    self.makedirs(posixpath.dirname(full))
                    fh = sftp.open(tmp, "wb")
                with fh:
                    fh.set_pipelined(True)
                    fh.write(data)
                if mode is not None:
                    sftp.chmod(tmp, mode)
                sftp.posix_rename(tmp, full)

        self._call(f"writing {full}", write, repeatable=True)

    @_operation
    def exists(self, path: str) -> bool:
        full = self._abs(path)

        def check() -> bool:
            with self._lock:
                try:
                    self._sftp_client().lstat(full)
                    return True
                except FileNotFoundError:
                    return False

        return self._call(f"checking {full}", check, repeatable=True)

    def makedirs(self, path: str) -> None:
        self.run(["mkdir", "-p", "--", self._abs(path)])

    @_operation
    def get_tree(self, remote_dir: str, local_dir: Path) -> list[str]:
        """Download the regular files under ``remote_dir``. Symlinks, special files and anything
        that would land outside ``local_dir`` are skipped; their relative paths are returned."""
        root = self._abs(remote_dir)
        local_root = Path(local_dir)

        def fetch() -> list[str]:
            with self._lock:
                return download_tree(self._sftp_client(), root, local_root)

        return self._call(f"downloading {root}", fetch, repeatable=True)


def _still_alive(conn: paramiko.Transport) -> bool:
    """Whether ``conn`` survives the next 0.3 s (its thread notices an EOF a moment later)."""
    deadline = time.monotonic() + 0.3
    while time.monotonic() < deadline:
        if not conn.is_active():
            return False
        time.sleep(0.02)
    return conn.is_active()


def _quietly_close(obj: Any) -> None:
    try:
        obj.close()
    except Exception:  # closing a dead connection may fail in many ways
        pass


__all__ = ["AuthenticationFailed", "IO_TIMEOUT", "SshTransport", "StalledPeer"]
