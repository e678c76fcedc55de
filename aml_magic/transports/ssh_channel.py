"""One remote command over an open SSH channel: stdin written from a producer, stdout and
stderr read back, then the exit status, with a no-progress deadline in both directions.

Writing stdin may wait for the SSH window as long as bytes keep being accepted; ``io_timeout``
seconds without any is a stall (a server or command that stopped reading). Reading may wait as
long as the command runs, but after a silence the caller's ``check_alive`` asks the server for a
reply: a silent command is fine, a server that does not answer is a stall.
"""
from __future__ import annotations

import io
import threading
import time
from typing import Any, BinaryIO, Callable

from aml_magic.errors import TargetError
from aml_magic.transports.ssh_connect import StalledPeer

CHUNK = 64 * 1024
TICK = 0.25  # how often blocked reads look at deadlines and the connection


class ConnectionLost(Exception):
    """The channel ended without an exit status: the connection died under it."""


class StdinClosed(Exception):
    """The remote side stopped reading stdin; its exit status tells why."""


class Progress:
    """When bytes last moved on a command's channel (either way), and on its stdin alone."""

    def __init__(self) -> None:
        self.any = self.sent = time.monotonic()

    def received(self) -> None:
        self.any = time.monotonic()

    def wrote(self) -> None:
        self.any = self.sent = time.monotonic()


class ChannelWriter(io.RawIOBase):
    """A write-only file over a channel's stdin, for ``tarfile.open(fileobj=..., mode="w|")``.
    Waits for the SSH window while it keeps opening; ``io_timeout`` seconds without any byte
    accepted is a stall (a server or command that stopped reading)."""

    def __init__(self, channel: Any, progress: Progress, stalled: Callable[[], StalledPeer],
                 io_timeout: float) -> None:
        self._channel, self._progress = channel, progress
        self._stalled, self._io_timeout = stalled, io_timeout

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        size = view.nbytes
        while view:
            try:
                sent = self._channel.send(view)
            except TimeoutError:
                if not self._channel.get_transport().is_active():
                    raise StdinClosed() from None
                if time.monotonic() - self._progress.sent >= self._io_timeout:
                    raise self._stalled() from None
                continue
            except OSError:
                raise StdinClosed() from None
            if not sent:  # the channel is closed or its stdin shut: the remote stopped reading
                raise StdinClosed()
            self._progress.wrote()
            view = view[sent:]
        return size


def pump_command(conn: Any, chan: Any, argv: list[str], *, where: str,
                 feed: Callable[[BinaryIO], None] | None, on_stdout: Callable[[bytes], None],
                 combine: bool, timeout: float | None, io_timeout: float,
                 stalled: Callable[[str], StalledPeer],
                 check_alive: Callable[[Progress, str], None]) -> tuple[int, bytes]:
    """Feed stdin, deliver stdout, collect stderr, return ``(exit_code, stderr)``; always closes
    ``chan``. Raises ``StalledPeer``, ``ConnectionLost`` (the connection died under it),
    ``TargetError`` (overall ``timeout``) or the producer's own error."""
    try:
        return _pump(conn, chan, argv, where=where, feed=feed, on_stdout=on_stdout,
                     combine=combine, timeout=timeout, io_timeout=io_timeout, stalled=stalled,
                     check_alive=check_alive)
    finally:
        chan.close()


def send_eof(chan: Any) -> None:
    """End the command's stdin. paramiko's ``shutdown_write`` builds the EOF under the
    channel's lock but sends it after releasing it: a CLOSE from a command that already ended,
    handled in between, goes out first, and OpenSSH then drops the whole connection (every
    other command on it) for an EOF on a freed channel. So build and send it under the lock,
    which paramiko also holds while it answers a CLOSE."""
    with chan.lock:
        if chan.closed:
            return
        message = chan._send_eof()
        if message is not None and chan.transport is not None:
            chan.transport._send_user_message(message)


def _pump(conn: Any, chan: Any, argv: list[str], *, where: str,
          feed: Callable[[BinaryIO], None] | None, on_stdout: Callable[[bytes], None],
          combine: bool, timeout: float | None, io_timeout: float,
          stalled: Callable[[str], StalledPeer],
          check_alive: Callable[[Progress, str], None]) -> tuple[int, bytes]:
    failures: list[BaseException] = []
    stderr = bytearray()
    progress = Progress()
    upload = f"uploading to {argv[0]!r}"
    uploading = threading.Event()  # set while the producer still writes stdin
    if feed is not None:
        uploading.set()

    def write() -> None:
        try:
            if feed is not None:
                feed(ChannelWriter(chan, progress, lambda: stalled(upload),  # type: ignore[arg-type]
                                    io_timeout))
            uploading.clear()
            send_eof(chan)
        except StdinClosed:
            pass
        except BaseException as exc:  # the producer failed or stalled: stop the command
            failures.append(exc)
            chan.close()
        finally:
            uploading.clear()

    def read_stderr() -> None:
        while True:
            try:
                data = chan.recv_stderr(CHUNK)
            except TimeoutError:
                continue
            except Exception:  # the channel died: the main loop reports it
                return
            if not data:
                return
            progress.received()
            stderr.extend(data)

    threads = [threading.Thread(target=write, daemon=True)]
    if not combine:
        threads.append(threading.Thread(target=read_stderr, daemon=True))
    chan.settimeout(TICK)
    for thread in threads:
        thread.start()
    deadline = None if timeout is None else time.monotonic() + timeout

    def waited() -> None:
        """Between reads: the overall timeout, the connection, the server's liveness."""
        if deadline is not None and time.monotonic() > deadline:
            raise TargetError(f"{where}: {argv[0]!r} did not finish within "
                              f"{timeout:g} s")
        if not conn.is_active():
            raise ConnectionLost()
        check_alive(progress, upload if uploading.is_set() else f"running {argv[0]!r}")

    while not failures:
        try:
            data = chan.recv(CHUNK)
        except TimeoutError:
            waited()
            continue
        if not data:
            break
        progress.received()
        on_stdout(data)
    for thread in threads:
        while thread.is_alive() and not failures:
            thread.join(TICK)
            if thread.is_alive():
                waited()
    if failures:
        raise failures[0]
    while not chan.status_event.wait(TICK):
        waited()
    code = chan.recv_exit_status()
    if code == -1 and not conn.is_active():
        raise ConnectionLost()
    return code, bytes(stderr)


__all__ = ["ChannelWriter", "ConnectionLost", "Progress", "StdinClosed", "pump_command"]
