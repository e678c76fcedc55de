"""Wake when a local folder's files change (Linux inotify through ctypes, no dependency).

A local run's agent writes ``log.txt`` and renames ``status.json`` into the run folder itself,
so watching that folder tells a follower at once that there is new log text or a new state:
``aml experiment submit --wait`` streams lines as they are printed instead of on a timer.
Where inotify is missing (another OS, a restricted sandbox), ``available`` is False and callers
keep their timed pauses.
"""
from __future__ import annotations

import os
import select
from pathlib import Path

# <sys/inotify.h>
_IN_MODIFY = 0x002
_IN_CLOSE_WRITE = 0x008
_IN_MOVED_TO = 0x080
_IN_CREATE = 0x100
_IN_NONBLOCK = 0o4000
_IN_CLOEXEC = 0o2000000
_EVENTS = _IN_MODIFY | _IN_CLOSE_WRITE | _IN_MOVED_TO | _IN_CREATE


class FolderWatch:
    """Events on the files directly inside one folder; ``close`` when done."""

    def __init__(self, folder: Path | str) -> None:
        self.fd = -1
        try:
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            fd = int(libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC))
            if fd < 0:
                return
            if libc.inotify_add_watch(fd, os.fsencode(str(folder)), _EVENTS) < 0:
                os.close(fd)
                return
            self.fd = fd
        except (OSError, AttributeError):
            return

    @property
    def available(self) -> bool:
        return self.fd >= 0

    def wait(self, timeout: float) -> bool:
        """Block until something in the folder changed (True) or ``timeout`` passed (False);
        events that arrived meanwhile count, so nothing written before the call is missed."""
        if self.fd < 0:
            return False
        ready, _, _ = select.select([self.fd], [], [], max(timeout, 0.0))
        if not ready:
            return False
        try:
            while os.read(self.fd, 4096):
                pass
        except BlockingIOError:
            pass
        return True

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
