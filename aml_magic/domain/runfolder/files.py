"""File operations below a run folder that never follow a link the run planted: each path
component is opened with ``O_NOFOLLOW`` from a folder the host owns, files are read only when
regular (never a FIFO or device) and written under fresh names renamed into place."""
from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from aml_magic.errors import UnsafeRunFile

LOG_CHUNK = 4 << 20                 # one read of log.txt per reconcile pass (and per widget tick)
_NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC


def open_dir_nofollow(base: Path | str, rel: str = "", *, create: bool = False,
                      mode: int = 0o700) -> int:
    """A directory fd for ``base/rel``. ``base`` is the host's own (opened normally); every
    component of ``rel`` is opened with ``O_NOFOLLOW`` (and created with ``mode`` when
    ``create``: history folders are 0700), so a symlink placed by the run raises
    ``UnsafeRunFile`` instead of leading elsewhere."""
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in [p for p in rel.split("/") if p not in ("", ".")]:
            if part == "..":
                raise UnsafeRunFile(f"{base}/{rel}: '..' is not allowed")
            if create:
                try:
                    os.mkdir(part, mode, dir_fd=fd)
                except FileExistsError:
                    pass
            try:
                child = os.open(part, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise UnsafeRunFile(f"{base}/{rel}: '{part}' is a symlink or not a "
                                        "folder; not followed") from None
                raise
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_file_nofollow(base: Path | str, rel: str) -> tuple[int, os.stat_result]:
    """A read-only fd on the regular file ``base/rel`` and its ``fstat``. ``base`` is the host's
    own folder (opened normally); every component of ``rel``, the last one included, is opened
    with ``O_NOFOLLOW`` from its parent's fd, so a symlink anywhere below ``base`` (``sub ->
    /etc``) raises ``UnsafeRunFile`` instead of leading out; so do an absolute path, empty,
    ``.`` or ``..`` components, and a FIFO, device or folder at the end. Missing:
    ``FileNotFoundError``."""
    parts = rel.split("/")
    if "\0" in rel or any(p in ("", ".", "..") for p in parts):
        raise UnsafeRunFile(f"{base}/{rel}: not a plain relative path; not opened")
    folder = open_dir_nofollow(base, "/".join(parts[:-1]))
    try:
        fd = os.open(parts[-1], os.O_RDONLY | os.O_NONBLOCK | _NOFOLLOW, dir_fd=folder)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENXIO):
            raise UnsafeRunFile(f"{base}/{rel} is a symlink or special file; not read") \
                from None
        raise
    finally:
        os.close(folder)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise UnsafeRunFile(f"{base}/{rel} is not a regular file; not read")
    return fd, info


def write_marker(folder: Path | str, name: str, data: bytes) -> None:
    """Create or replace ``folder/name`` (a cancel marker, a stamp): written under a fresh
    exclusive name and renamed over, so a symlink or hard link placed there is replaced, never
    written through."""
    fd = open_dir_nofollow(folder)
    tmp = f".{name}.tmp-{os.urandom(4).hex()}"
    try:
        out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600, dir_fd=fd)
        with os.fdopen(out, "wb") as fh:
            fh.write(data)
        os.rename(tmp, name, src_dir_fd=fd, dst_dir_fd=fd)
    except IsADirectoryError:
        os.unlink(tmp, dir_fd=fd)
        raise UnsafeRunFile(f"{folder}/{name} is a folder; not replaced") from None
    finally:
        os.close(fd)


def append_nofollow(folder: Path | str, name: str, data: bytes) -> None:
    """Append to the regular file ``folder/name`` (created if absent); a symlink, special file
    or hard-linked file there raises ``UnsafeRunFile``."""
    dfd = open_dir_nofollow(folder)
    try:
        try:
            fd = os.open(name, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | _NOFOLLOW,
                         0o600, dir_fd=dfd)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENXIO, errno.EISDIR):
                raise UnsafeRunFile(f"{folder}/{name} is not a regular file; not written") \
                    from None
            raise
        with os.fdopen(fd, "ab") as fh:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
                raise UnsafeRunFile(f"{folder}/{name} is not a plain file; not written")
            fh.write(data)
    finally:
        os.close(dfd)


def open_lock(folder: Path | str, name: str = ".lock") -> int:
    """An fd on the lock file ``folder/name``, never through a symlink: whatever else the run
    put under that name is removed (it is inside the run folder) and a fresh file is made."""
    dfd = open_dir_nofollow(folder)
    try:
        for _attempt in range(3):
            try:
                fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | _NOFOLLOW, 0o600,
                             dir_fd=dfd)
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENXIO, errno.EISDIR):
                    raise
            else:
                if stat.S_ISREG(os.fstat(fd).st_mode):
                    return fd
                os.close(fd)
            try:
                os.unlink(name, dir_fd=dfd)
            except IsADirectoryError:        # a folder: moved aside, inside the run folder
                os.rename(name, f"{name}.refused-{os.urandom(4).hex()}", src_dir_fd=dfd,
                          dst_dir_fd=dfd)
        raise UnsafeRunFile(f"{folder}/{name}: the run put something there that is not a file")
    finally:
        os.close(dfd)


def read_nofollow(path: Path | str, offset: int = 0, limit: int = LOG_CHUNK) -> bytes:
    """At most ``limit`` bytes of the regular file ``path`` from ``offset``; b"" when it does
    not exist; ``UnsafeRunFile`` when it is a symlink, a FIFO, a device or a folder."""
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):   # never open a device the run made
            raise UnsafeRunFile(f"{path} is a symlink or special file; not read")
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | _NOFOLLOW)
    except FileNotFoundError:
        return b""
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENXIO):
            raise UnsafeRunFile(f"{path} is a symlink or special file; not read") from None
        raise
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnsafeRunFile(f"{path} is not a regular file; not read")
        fh.seek(offset)
        return fh.read(max(0, limit))


def read_tail_nofollow(path: Path | str, nbytes: int) -> bytes | None:
    """The last ``nbytes`` of the regular file ``path`` (a log's tail); None when it is
    missing, unreadable or not a regular file the run made."""
    try:
        size = os.lstat(path).st_size
        return read_nofollow(path, max(0, size - nbytes), nbytes)
    except (OSError, UnsafeRunFile):
        return None
