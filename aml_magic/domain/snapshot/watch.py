"""Know what changed in a project without walking it again: Linux inotify on every folder the
last walk listed, so a process that lives on (a kernel, the Jupyter server, a sweep) snapshots
a 10,000-file project by looking at the few paths that changed since its last snapshot.

Correctness rests on what inotify guarantees: every ``write``, ``truncate``, ``chmod``,
create, delete and rename through a watched folder queues an event before the system call
returns. So a file changed before the snapshot began has an event waiting, and every path
named by an event is read and hashed afresh, whatever its size and mtime say (an edit keeping
both, even within the same second or with the mtime put back, is caught). A watch is added to
a folder *before* the folder is listed, so nothing changed during the walk is missed either.

Whatever this does not follow exactly falls back to a full walk, which also renews the
watches: a folder created, deleted or renamed, an ignore file changed, a symlink anywhere in
the project, a queue overflow, a folder on another file system, a project on a file system
whose changes may come from elsewhere (NFS, FUSE: only local disk file systems are watched),
and a walk that gave warnings. Files with other hard links are re-checked by ``stat`` on every
snapshot (a write through another link is reported to that link's folder). Writes through a
shared memory map are not reported by inotify at all; a project changed that way is snapshotted
right after a full walk only (``take_snapshot(..., use_cache=False)``).
"""
from __future__ import annotations

import os
import stat
import threading

from aml_magic.domain.config.compute import holds_plaintext_secret
from aml_magic.domain.snapshot.folder_watch import inotify_events
from aml_magic.domain.snapshot.ignore_rules import IGNORE_FILES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# <sys/inotify.h>
_IN_MODIFY, _IN_ATTRIB, _IN_CLOSE_WRITE = 0x2, 0x4, 0x8
_IN_MOVED_FROM, _IN_MOVED_TO, _IN_CREATE, _IN_DELETE = 0x40, 0x80, 0x100, 0x200
_IN_DELETE_SELF, _IN_MOVE_SELF = 0x400, 0x800
_IN_UNMOUNT, _IN_Q_OVERFLOW, _IN_IGNORED = 0x2000, 0x4000, 0x8000
_IN_ONLYDIR, _IN_DONT_FOLLOW, _IN_ISDIR = 0x01000000, 0x02000000, 0x40000000
_IN_NONBLOCK, _IN_CLOEXEC = 0o4000, 0o2000000
_MASK = (_IN_MODIFY | _IN_ATTRIB | _IN_CLOSE_WRITE | _IN_MOVED_FROM | _IN_MOVED_TO | _IN_CREATE
         | _IN_DELETE | _IN_DELETE_SELF | _IN_MOVE_SELF | _IN_ONLYDIR | _IN_DONT_FOLLOW)
_AML_MASK = (_IN_CREATE | _IN_DELETE | _IN_MOVED_FROM | _IN_MOVED_TO | _IN_DELETE_SELF
             | _IN_MOVE_SELF | _IN_ONLYDIR | _IN_DONT_FOLLOW)
_STRUCTURAL = _IN_DELETE_SELF | _IN_MOVE_SELF | _IN_UNMOUNT | _IN_Q_OVERFLOW | _IN_IGNORED
#: file systems whose every change goes through this kernel (so through inotify)
LOCAL_FILE_SYSTEMS = frozenset({"ext2", "ext3", "ext4", "xfs", "btrfs", "tmpfs", "f2fs",
                                "overlay", "zfs", "jfs", "bcachefs"})
AML_FOLDER = "\0.aml"          # the watch on <project>/.aml (only its cells/ matters)


class TreeWatch:
    """inotify watches over one project's folders, and what its last snapshot held."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.fd = -1
        self.usable = False
        self.lock = threading.Lock()
        self.folders: dict[int, str] = {}          # watch descriptor -> folder prefix
        self.rules: dict[str, Any] = {}            # folder prefix -> its IgnoreChain
        self.linked: set[str] = set()              # files with other hard links
        self.files: dict[str, Any] = {}            # the last snapshot's entries
        self.stats: dict[str, tuple[int, int, int]] = {}   # linked files: size, mtime, inode
        self.device = -1
        try:
            if _fs_type(root) not in LOCAL_FILE_SYSTEMS:
                return
            import ctypes
            self._libc = ctypes.CDLL(None, use_errno=True)
            fd = int(self._libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC))
        except (OSError, AttributeError):
            return
        if fd >= 0:
            self.fd = fd
            self.device = os.stat(root).st_dev
            self.usable = True

    # -- during a full walk -------------------------------------------------------------------
    def add_folder(self, path: str, prefix: str) -> None:
        """Watch ``path`` before it is listed; a failure (watch limit) disables the watch.
        The project's ``.aml`` (``AML_FOLDER``) is watched only for names coming and going:
        its database files change on every history write."""
        if not self.usable:
            return
        mask = _MASK if prefix != AML_FOLDER else _AML_MASK
        wd = int(self._libc.inotify_add_watch(self.fd, os.fsencode(path), mask))
        if wd < 0:
            self.usable = False
            return
        self.folders[wd] = prefix

    def folder_rules(self, prefix: str, rules: Any) -> None:
        self.rules[prefix] = rules

    def saw_folder(self, st: os.stat_result) -> None:
        if st.st_dev != self.device:
            self.usable = False                    # another file system inside the project

    def saw_symlink(self) -> None:
        self.usable = False

    def saw_file(self, rel: str, st: os.stat_result) -> None:
        if st.st_nlink > 1:
            self.linked.add(rel)
            self.stats[rel] = (st.st_size, st.st_mtime_ns, st.st_ino)

    def walked(self, files: dict[str, Any], warnings: list[str]) -> None:
        """The walk's result; a walk with warnings is always repeated in full."""
        self.files = dict(files)
        if warnings:
            self.usable = False

    # -- later snapshots ----------------------------------------------------------------------
    def changed_files(self, hash_file: Any, entry: Any) -> dict[str, Any] | None:
        """The project's entries now, from the last ones and the paths events name; None when
        only a full walk can tell (the caller then walks with a new watch)."""
        if not self.usable:
            return None
        dirty = self._drain()
        if dirty is None:
            self.usable = False
            return None
        files = dict(self.files)
        for rel in sorted(dirty | self.linked):
            prefix = rel.rpartition("/")[0]
            rules = self.rules.get(prefix + "/" if prefix else "")
            if rules is None:
                return None
            path = os.path.join(self.root, rel)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                files.pop(rel, None)
                self.linked.discard(rel)
                continue
            except OSError:
                return None
            if not stat.S_ISREG(st.st_mode):
                return None                        # a symlink, fifo...: the walk's rules apply
            if rules.rules and rules.decide(rel, False):
                files.pop(rel, None)
                continue
            if _plaintext_compute(rel, path):
                files.pop(rel, None)
                continue
            if rel not in dirty and self.stats.get(rel) == (st.st_size, st.st_mtime_ns,
                                                            st.st_ino):
                continue                           # a linked file, unchanged by its stat
            try:
                sha = hash_file(path)
            except OSError:
                return None
            files[rel] = entry(sha, st.st_size, 0o755 if st.st_mode & 0o111 else 0o644)
            if st.st_nlink > 1:
                self.linked.add(rel)
                self.stats[rel] = (st.st_size, st.st_mtime_ns, st.st_ino)
        self.files = files
        return files

    def _drain(self) -> set[str] | None:
        """Paths named by the queued events; None for an event only a walk can handle."""
        dirty: set[str] = set()
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return dirty
            except OSError:
                return None
            if not data:
                return dirty
            for wd, mask, raw in inotify_events(data):
                if mask & _STRUCTURAL:
                    return None
                prefix = self.folders.get(wd)
                if prefix is None:
                    return None
                name = os.fsdecode(raw)
                if prefix == AML_FOLDER:
                    if name == "cells":            # cells exported by %%aml_submit appear
                        return None
                    continue
                if name == ".git" or (name == ".aml" and not prefix):
                    continue                       # never part of a snapshot
                if mask & _IN_ISDIR or name in IGNORE_FILES:
                    return None
                dirty.add(prefix + name)

    def close(self) -> None:
        self.usable = False
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _plaintext_compute(rel: str, path: str) -> bool:
    if not (rel.startswith("aml_config/") and rel.endswith(".compute") and rel.count("/") == 1):
        return False
    return bool(holds_plaintext_secret(path))


def _fs_type(path: str) -> str:
    """The type of the file system holding ``path`` (the longest mount point above it)."""
    real = os.path.realpath(path)
    best, kind = "", ""
    with open("/proc/self/mounts", encoding="utf-8", errors="replace") as mounts:
        for line in mounts:
            fields = line.split()
            if len(fields) < 3:
                continue
            point = fields[1].replace("\\040", " ")
            inside = real == point or real.startswith(point.rstrip("/") + "/")
            if inside and len(point) >= len(best):
                best, kind = point, fields[2]
    return kind


__all__ = ["LOCAL_FILE_SYSTEMS", "TreeWatch"]
