"""Bounded windows of a run's log for the Lab's log view: its tail, the bytes before a point
("load earlier") and the next bytes after one (follow), each at most ``LOG_WINDOW_MAX`` bytes,
so an 11 MB log never costs more than one bounded read and one bounded answer."""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from aml_magic.domain.runfolder import read_nofollow
from aml_magic.errors import ApiError, UnsafeRunFile

#: The most bytes of log one answer carries (the Lab asks for 1 MB windows).
LOG_WINDOW_MAX = 4 << 20


def window_size(limit: int | None) -> int:
    """The bytes a read may take: LIMIT when given (1..LOG_WINDOW_MAX), else the maximum."""
    if limit is None:
        return LOG_WINDOW_MAX
    if limit <= 0:
        raise ApiError(400, "tail and limit must be > 0")
    return min(limit, LOG_WINDOW_MAX)


def log_size(folder: Path) -> int:
    """The log's size in bytes (0 when there is none yet or it is not a regular file)."""
    try:
        return os.lstat(folder / "log.txt").st_size
    except OSError:
        return 0


def window_before(folder: Path, end: int, limit: int) -> tuple[bytes, int]:
    """(bytes, start): at most LIMIT bytes ending at END, starting at a line's start (unless one
    line is longer than the window: then it comes in pieces)."""
    start = max(0, end - limit)
    data = read_nofollow(folder / "log.txt", start, end - start)
    if start > 0:
        cut = data.find(b"\n") + 1
        if 0 < cut < len(data):
            data, start = data[cut:], start + cut
    return data, start


def complete_lines(data: bytes, ended: bool, limit: int) -> int:
    """Where DATA's last complete line ends; all of it when the run ended or one line fills
    the window."""
    end = data.rfind(b"\n") + 1
    if end == 0 and (len(data) >= limit or ended):
        end = len(data)               # a line longer than one read comes in pieces
    return end


def read_window(folder: Path, mask: Callable[[str], str], ended: bool, *, offset: int = 0,
                tail: int | None = None, before: int | None = None,
                limit: int | None = None) -> tuple[str, int, int, bool]:
    """(masked text, its start, where to read on, nothing left after it): the TAIL bytes of
    the log, the LIMIT bytes BEFORE a byte, or the LIMIT bytes from OFFSET, cut at lines."""
    if offset < 0 or (before is not None and before < 0):
        raise ApiError(400, "offset and before must be >= 0")
    if tail is not None and before is not None:
        raise ApiError(400, "ask for a tail or for the bytes before a point, not both")
    size = window_size(tail if tail is not None else limit)
    try:   # the run may have replaced log.txt (a symlink, /dev/zero): bounded, no-follow
        if before is not None:
            data, start = window_before(folder, min(before, log_size(folder)), size)
            return mask(data.decode("utf-8", "replace")), start, start + len(data), False
        total = log_size(folder)
        if tail is not None:
            data, start = window_before(folder, total, size)
        else:
            data, start = read_nofollow(folder / "log.txt", offset, size), offset
        end = complete_lines(data, ended, size)
    except (UnsafeRunFile, OSError):
        return "", offset, offset, ended
    # ended, and nothing left: a tail that reached the end, or a read that found nothing new
    done = ended and (start + end >= total if tail is not None else end == 0)
    return mask(data[:end].decode("utf-8", "replace")), start, start + end, done
