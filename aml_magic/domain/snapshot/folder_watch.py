"""Wake when a run on this machine prints or ends: its ``log.txt`` grows (Linux inotify through
ctypes, no dependency) or its agent process exits (a pidfd).

A local run's agent writes ``log.txt`` into the run folder itself and exits right after writing
the run's end state, so a follower waiting on both streams lines as they are printed and sees
the end at once, instead of on a timer. Other files of the folder (the agent's status and
outputs files, being replaced) do not wake it: one wake-up at the end is cheaper than several.
Where inotify is missing (another OS, a restricted sandbox), ``available`` is False and callers
keep their timed pauses.
"""
from __future__ import annotations

import os
import select
import time
from collections.abc import Iterator
from pathlib import Path

# <sys/inotify.h>
_IN_MODIFY = 0x002
_IN_CREATE = 0x100
_IN_NONBLOCK = 0o4000
_IN_CLOEXEC = 0o2000000
LOG_NAME = b"log.txt"


class FolderWatch:
    """Growth of ``log.txt`` in one folder, and optionally the exit of one process."""

    def __init__(self, folder: Path | str, *, pid: int | None = None) -> None:
        self.fd = -1
        self.pidfd = -1
        try:
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            fd = int(libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC))
            if fd < 0:
                return
            if libc.inotify_add_watch(fd, os.fsencode(str(folder)), _IN_MODIFY | _IN_CREATE) < 0:
                os.close(fd)
                return
            self.fd = fd
        except (OSError, AttributeError):
            return
        if pid:
            try:
                self.pidfd = os.pidfd_open(int(pid))
            except (AttributeError, OSError, ValueError):
                self.pidfd = -1          # gone already (or no pidfd): the caller's check sees it

    @property
    def available(self) -> bool:
        return self.fd >= 0

    def wait(self, timeout: float) -> bool:
        """Block until the log grew or the process exited (True) or ``timeout`` passed (False).
        Growth since the last call counts, so no line written before the call is missed; the
        exit is reported once (later waits are timed)."""
        if self.fd < 0:
            return False
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            fds = [self.fd] + ([self.pidfd] if self.pidfd >= 0 else [])
            ready, _, _ = select.select(fds, [], [], max(deadline - time.monotonic(), 0.0))
            if not ready:
                return False
            if self.pidfd >= 0 and self.pidfd in ready:
                os.close(self.pidfd)
                self.pidfd = -1
                return True
            if self._log_grew():
                return True
            if time.monotonic() >= deadline:   # only other files changed
                return False

    def _log_grew(self) -> bool:
        grew = False
        try:
            while True:
                data = os.read(self.fd, 4096)
                if not data:
                    break
                grew = grew or any(name == LOG_NAME for _, _, name in inotify_events(data))
        except BlockingIOError:
            pass
        return grew

    def close(self) -> None:
        for attr in ("fd", "pidfd"):
            fd = getattr(self, attr)
            if fd >= 0:
                os.close(fd)
                setattr(self, attr, -1)


def inotify_events(data: bytes) -> Iterator[tuple[int, int, bytes]]:
    """``(wd, mask, name)`` of each event in one read of an inotify descriptor."""
    import struct  # an extension module: only a watcher reading events needs it
    event = struct.Struct("iIII")       # wd, mask, cookie, len; then len bytes of name
    offset = 0
    while offset + event.size <= len(data):
        wd, mask, _cookie, length = event.unpack_from(data, offset)
        start = offset + event.size
        yield wd, mask, data[start:start + length].rstrip(b"\0")
        offset = start + length
