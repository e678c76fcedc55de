"""The SSH transport (paramiko): the same contract as ``LocalTransport``, over one connection.

Host keys are always checked against the pin from the ``.compute`` file (see ``hostkeys``).
Commands go through the remote shell, so ``argv`` is joined with ``shlex.join``. A dropped
connection is re-established with bounded backoff on the next call; calls that are safe to repeat
are repeated once, a command that may already have started is not.
"""
from __future__ import annotations

import io
import os
import posixpath
import shlex
import socket
import stat
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO, Callable, TypeVar

from ..errors import HostKeyError, TargetError, UnsafeRunFile
from .base import READ_LIMIT, CommandResult, TarProducer
from .hostkeys import pinned_policy

T = TypeVar("T")
_WINDOW = 8 * 1024 * 1024
_CHUNK = 64 * 1024


class _ConnectionLost(Exception):
    """The channel ended without an exit status: the connection died under it."""


class AuthenticationFailed(TargetError):
    """The server refused the password or key: retrying will not help."""


class _StdinClosed(Exception):
    """The remote side stopped reading stdin; its exit status tells why."""


class _ChannelWriter(io.RawIOBase):
    """A write-only file over a channel's stdin, for ``tarfile.open(fileobj=..., mode="w|")``.
    Waits for the SSH window as long as the connection lives (the channel's short read timeout
    must not abort a slow upload)."""

    def __init__(self, channel: Any) -> None:
        self._channel = channel

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        size = view.nbytes
        while view:
            try:
                view = view[self._channel.send(view):]
            except socket.timeout:
                if not self._channel.get_transport().is_active():
                    raise _StdinClosed() from None
            except OSError:
                raise _StdinClosed() from None
        return size


class SshTransport:
    """Commands and files on one SSH host, authenticated by password or private key."""

    def __init__(self, host: str, port: int = 22, username: str | None = None, *,
                 password: str | None = None, key: str | None = None, key_path: str | None = None,
                 pinned_fingerprint: str | None = None, connect_timeout: float = 10.0,
                 reconnect_attempts: int = 6, reconnect_timeout: float = 30.0) -> None:
        import getpass

        self.host, self.port = host, int(port)
        self.username = username or getpass.getuser()
        self.pinned_fingerprint = pinned_fingerprint
        self.connect_timeout = connect_timeout
        self.reconnect_attempts, self.reconnect_timeout = reconnect_attempts, reconnect_timeout
        self._password, self._key_text, self._key_path = password, key, key_path
        self._client: Any = None
        self._sftp: Any = None
        self._home: str | None = None
        self._ever_connected = False
        self._lock = threading.RLock()  # guards connecting and the (not thread-safe) SFTP client

    @property
    def where(self) -> str:
        return f"ssh {self.username}@{self.host}:{self.port}"

    def __repr__(self) -> str:  # never shows the password
        return f"SshTransport({self.where})"

    def __enter__(self) -> SshTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- connection -------------------------------------------------------------------------

    def is_connected(self) -> bool:
        transport = self._client.get_transport() if self._client is not None else None
        return bool(transport is not None and transport.is_active())

    def ensure_connected(self) -> Any:
        """Return a live ``SSHClient``; (re)connect if needed. The first connection is tried once
        (fail fast); after a drop, retries back off up to ``reconnect_attempts``/``reconnect_timeout``."""
        with self._lock:
            if self.is_connected():
                return self._client
            self._drop()
            if not self._ever_connected:
                self._client = self._connect_once()
                self._ever_connected = True
                return self._client
            deadline, delay, attempt = time.monotonic() + self.reconnect_timeout, 0.25, 0
            while True:
                attempt += 1
                try:
                    self._client = self._connect_once()
                    return self._client
                except (HostKeyError, AuthenticationFailed):
                    raise
                except TargetError as exc:
                    left = deadline - time.monotonic()
                    if attempt >= self.reconnect_attempts or left <= 0:
                        raise TargetError(f"{exc} (gave up reconnecting after {attempt} attempts)") from None
                    time.sleep(min(delay, left))
                    delay = min(delay * 2, 8.0)

    def _connect_once(self) -> Any:
        import paramiko

        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(pinned_policy(self.pinned_fingerprint, host=self.host,
                                                         port=self.port))
        t = self.connect_timeout
        try:
            client.connect(self.host, self.port, self.username, password=self._password,
                           pkey=self._load_key(), allow_agent=False, look_for_keys=False,
                           timeout=t, banner_timeout=t, auth_timeout=t, channel_timeout=t,
                           transport_factory=_fast_transport)
        except HostKeyError:
            client.close()
            raise
        except paramiko.AuthenticationException:
            client.close()
            how = "key" if (self._key_text or self._key_path) else "password"
            raise AuthenticationFailed(f"{self.where}: authentication failed ({how}); check the username and "
                              f"the {how}, then re-attach the target") from None
        except (paramiko.SSHException, EOFError, OSError) as exc:
            client.close()
            reason = "timed out" if isinstance(exc, socket.timeout) else (
                getattr(exc, "strerror", None) or str(exc) or type(exc).__name__)
            raise TargetError(f"{self.where}: cannot connect: {reason} (connect timeout {t:g} s); "
                              f"check the address and port and that sshd is running") from None
        transport = client.get_transport()
        if transport is not None:
            transport.set_keepalive(15)
        return client

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

    def _drop(self) -> None:
        with self._lock:
            for obj in (self._sftp, self._client):
                try:
                    if obj is not None:
                        obj.close()
                except Exception:  # closing a dead connection may fail in many ways
                    pass
            self._sftp = self._client = None

    def close(self) -> None:
        self._drop()

    def _call(self, what: str, fn: Callable[[], T], *, repeatable: bool) -> T:
        """Run ``fn`` on a live connection; map failures to ``TargetError``; after a drop,
        reconnect and (if ``repeatable``) run it once more."""
        import paramiko

        for attempt in (1, 2):
            self.ensure_connected()
            try:
                return fn()
            except (_ConnectionLost, paramiko.SSHException, EOFError, OSError) as exc:
                dropped = isinstance(exc, _ConnectionLost) or not self._still_alive()
                if not dropped:
                    raise TargetError(f"{self.where}: {what} failed: {exc}") from None
                if not repeatable or attempt == 2:
                    raise TargetError(f"{self.where}: connection lost during {what}; it may or may not "
                                      "have completed on the target") from None
        raise AssertionError("unreachable")

    def _still_alive(self) -> bool:
        deadline = time.monotonic() + 0.3  # the transport thread notices EOF a moment later
        while time.monotonic() < deadline:
            if not self.is_connected():
                return False
            time.sleep(0.02)
        return self.is_connected()

    # -- commands ---------------------------------------------------------------------------

    def _open(self, command: str, *, combine: bool) -> Any:
        chan = self.ensure_connected().get_transport().open_session(
            window_size=_WINDOW, timeout=self.connect_timeout)
        chan.set_combine_stderr(combine)
        chan.exec_command(command)
        return chan

    def _exec(self, argv: list[str], *, feed: Callable[[BinaryIO], None] | None,
              on_stdout: Callable[[bytes], None], combine: bool, timeout: float | None) -> tuple[int, bytes]:
        """Run one command; return ``(exit_code, stderr)``. Raises ``_ConnectionLost`` on a drop."""
        command = shlex.join([str(a) for a in argv])
        chan = self._call(f"starting {argv[0]!r}", lambda: self._open(command, combine=combine),
                          repeatable=True)
        errors: list[BaseException] = []
        stderr = bytearray()

        def write() -> None:
            try:
                if feed is not None:
                    feed(_ChannelWriter(chan))  # type: ignore[arg-type]
                chan.shutdown_write()
            except _StdinClosed:
                pass
            except BaseException as exc:  # the producer failed: stop the command, report it
                errors.append(exc)
                chan.close()

        def read_stderr() -> None:
            while True:
                try:
                    data = chan.recv_stderr(_CHUNK)
                except socket.timeout:
                    continue
                if not data:
                    return
                stderr.extend(data)

        threads = [threading.Thread(target=write, daemon=True)]
        if not combine:
            threads.append(threading.Thread(target=read_stderr, daemon=True))
        chan.settimeout(0.25)
        for thread in threads:
            thread.start()
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                try:
                    data = chan.recv(_CHUNK)
                except socket.timeout:
                    if deadline is not None and time.monotonic() > deadline:
                        raise TargetError(f"{self.where}: {argv[0]!r} did not finish within "
                                          f"{timeout:g} s") from None
                    if not self.is_connected():
                        raise _ConnectionLost() from None
                    continue
                if not data:
                    break
                on_stdout(data)
            for thread in threads:
                thread.join(timeout=None if feed is not None else 5)
            code = chan.recv_exit_status()
            if code == -1 and not self.is_connected():
                raise _ConnectionLost()
        finally:
            chan.close()
        if errors:
            raise errors[0]
        return code, bytes(stderr)

    def _guarded_exec(self, argv: list[str], **kwargs: Any) -> tuple[int, bytes]:
        try:
            return self._exec(argv, **kwargs)
        except _ConnectionLost:
            self._drop()
            raise TargetError(f"{self.where}: connection lost while running {argv[0]!r}; it may "
                              "still be running or have finished on the target") from None

    def run(self, argv: list[str], *, stdin: bytes | TarProducer | None = None,
            timeout: float | None = None, check: bool = True) -> CommandResult:
        """``stdin`` may be bytes or a producer writing a stream (e.g. a header then a tar), so
        one command can both receive a large upload and answer on stdout."""
        out = bytearray()
        if callable(stdin):
            feed: Callable[[BinaryIO], None] | None = stdin
        else:
            data = stdin
            feed = (lambda f: f.write(data)) if data else None
        code, err = self._guarded_exec(argv, feed=feed, on_stdout=out.extend, combine=False,
                                       timeout=timeout)
        if check and code != 0:
            tail = err.decode("utf-8", "replace").strip()[-500:]
            raise TargetError(f"{self.where}: {argv[0]!r} exited with {code}: {tail}")
        return CommandResult(code, bytes(out), err)

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

        code, _ = self._guarded_exec(argv, feed=None, on_stdout=feed_lines, combine=True,
                                     timeout=timeout)
        if pending:
            on_line(bytes(pending).decode("utf-8", "replace"))
        return code

    def put_tar(self, producer: TarProducer, dest_dir: str) -> None:
        """Extract the tar that ``producer`` writes into ``dest_dir`` over one exec channel."""
        dest = self._abs(dest_dir)
        script = 'mkdir -p -- "$1" && exec tar -x -f - -C "$1"'
        code, err = self._guarded_exec(["sh", "-c", script, "sh", dest], feed=producer,
                                       on_stdout=lambda _: None, combine=False, timeout=None)
        if code != 0:
            tail = err.decode("utf-8", "replace").strip()[-500:]
            raise TargetError(f"{self.where}: extracting into {dest} failed ({code}): {tail}")

    # -- files (SFTP) -----------------------------------------------------------------------

    def _sftp_client(self) -> Any:
        with self._lock:
            client = self.ensure_connected()
            if self._sftp is None:
                self._sftp = client.open_sftp()
                self._sftp.get_channel().settimeout(max(self.connect_timeout, 30.0))
            return self._sftp

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
                    if end - offset > _CHUNK:
                        fh.prefetch(end)
                    return fh.read(end - offset)

        return self._call(f"reading {full}", read, repeatable=True)

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

    def get_tree(self, remote_dir: str, local_dir: Path) -> list[str]:
        """Download the regular files under ``remote_dir``. Symlinks, special files and anything
        that would land outside ``local_dir`` are skipped; their relative paths are returned."""
        root = self._abs(remote_dir)
        local_root = Path(local_dir)

        def fetch() -> list[str]:
            with self._lock:
                return _download_tree(self._sftp_client(), root, local_root)

        return self._call(f"downloading {root}", fetch, repeatable=True)


def _fast_transport(sock: Any, **kwargs: Any) -> Any:
    """A paramiko Transport preferring AES-GCM (no separate MAC pass: bulk sync is much faster)."""
    import paramiko

    transport = paramiko.Transport(sock, default_window_size=_WINDOW, **kwargs)
    options = transport.get_security_options()
    gcm = tuple(c for c in options.ciphers if c.endswith("-gcm@openssh.com"))
    options.ciphers = gcm + tuple(c for c in options.ciphers if c not in gcm)
    return transport


def _download_tree(sftp: Any, root: str, local_root: Path) -> list[str]:
    refused: list[str] = []
    try:
        top = sftp.lstat(root)
    except FileNotFoundError:
        return refused
    if not stat.S_ISDIR(top.st_mode or 0):
        return ["."]  # the folder itself is a symlink or not a folder: nothing is trusted
    local_root.mkdir(parents=True, exist_ok=True)
    base = os.path.realpath(local_root)
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        for entry in sftp.listdir_attr(posixpath.join(root, rel_dir) if rel_dir else root):
            name = entry.filename
            rel = posixpath.join(rel_dir, name) if rel_dir else name
            if name in ("", ".", "..") or "/" in name or "\\" in name:
                refused.append(rel)
                continue
            mode = entry.st_mode or 0
            target = local_root / rel
            parent = os.path.realpath(target.parent)
            if (parent != base and not parent.startswith(base + os.sep)) or target.is_symlink():
                refused.append(rel)
            elif stat.S_ISDIR(mode):
                target.mkdir(exist_ok=True)
                stack.append(rel)
            elif stat.S_ISREG(mode):
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
                with os.fdopen(fd, "wb") as fh:
                    sftp.getfo(posixpath.join(root, rel), fh)
            else:  # symlink, fifo, socket, device
                refused.append(rel)
    return sorted(refused)


__all__ = ["AuthenticationFailed", "SshTransport"]
