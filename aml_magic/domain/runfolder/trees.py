"""Copying and hashing the files a run wrote (``outputs/``, ``logs/``) without following a link
the run planted: each folder is walked through no-follow fds (``files``), each file read only
when regular, and what is found becomes ``Artifact`` records."""
from __future__ import annotations

import os
import stat
from aml_magic.domain.plain_data import field, plain_data
from pathlib import Path

from aml_magic.errors import UnsafeRunFile
from aml_magic.domain.results import Artifact
from aml_magic.domain.nofollow import open_dir_nofollow
from aml_magic.domain.runfolder.parsing import display_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC


def _sha256() -> Any:
    """A SHA-256 hasher. ``hashlib`` starts OpenSSL when imported (~3 ms): the commands that
    read the run history (``aml history list``, ``aml run list``) never hash a file."""
    import hashlib
    return hashlib.sha256()


@plain_data
class CopyReport:
    """What ``copy_tree_nofollow`` did: the files copied (relative, '/'-separated, UTF-8 with
    escapes) and what it refused, each with why."""
    copied: list[Artifact] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def copy_tree_nofollow(src_base: Path | str, src_rel: str, dest_base: Path | str,
                       dest_rel: str) -> CopyReport:
    """Copy the regular files under ``src_base/src_rel`` to ``dest_base/dest_rel``. Both bases
    are the host's; below them nothing is followed: symlinks and special files on the source
    side are refused, and each destination file is written under a fresh name and renamed into
    place, so a symlink or hard link the run planted in the destination is replaced, never
    written through. A symlinked destination folder refuses its whole subtree."""
    report = CopyReport()
    try:
        src = open_dir_nofollow(src_base, src_rel)
    except FileNotFoundError:
        return report
    except UnsafeRunFile as exc:
        report.refused.append(f"{src_rel} ({exc})")
        return report
    try:
        dest = open_dir_nofollow(dest_base, dest_rel, create=True)
    except UnsafeRunFile as exc:
        os.close(src)
        report.refused.append(f"{dest_rel} ({exc})")
        return report
    try:
        _copy_dir(src, dest, "", report)
    finally:
        os.close(src)
        os.close(dest)
    report.copied.sort(key=lambda a: a.path)
    return report


def _copy_dir(src: int, dest: int, prefix: str, report: CopyReport) -> None:
    for name in sorted(os.listdir(src)):
        rel = prefix + display_name(name)
        try:
            st = os.stat(name, dir_fd=src, follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode):
            try:
                os.mkdir(name, 0o700, dir_fd=dest)
            except FileExistsError:
                pass
            try:
                sub_src = os.open(name, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW, dir_fd=src)
            except OSError:
                report.refused.append(f"{rel}/ (changed while copying)")
                continue
            try:
                sub_dest = os.open(name, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW, dir_fd=dest)
            except OSError:
                os.close(sub_src)
                report.refused.append(f"{rel}/ (the destination is a symlink or not a folder)")
                continue
            try:
                _copy_dir(sub_src, sub_dest, rel + "/", report)
            finally:
                os.close(sub_src)
                os.close(sub_dest)
        elif stat.S_ISREG(st.st_mode):
            artifact = _copy_file(src, dest, name, rel)
            if artifact is None:
                report.refused.append(f"{rel} (not a regular file or not replaceable)")
            else:
                report.copied.append(artifact)
        else:
            kind = "symlink" if stat.S_ISLNK(st.st_mode) else "special file"
            report.refused.append(f"{rel} ({kind})")


def _copy_file(src: int, dest: int, name: str, rel: str) -> Artifact | None:
    try:
        fd_in = os.open(name, os.O_RDONLY | os.O_NONBLOCK | _NOFOLLOW, dir_fd=src)
    except OSError:
        return None
    tmp = f".aml-copy-{os.urandom(6).hex()}"
    try:
        with os.fdopen(fd_in, "rb") as fin:
            st = os.fstat(fin.fileno())
            if not stat.S_ISREG(st.st_mode):
                return None
            fd_out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW,
                             0o600, dir_fd=dest)
            digest, size = _sha256(), 0
            with os.fdopen(fd_out, "wb") as fout:
                for block in iter(lambda: fin.read(1 << 20), b""):
                    digest.update(block)
                    fout.write(block)
                    size += len(block)
        os.rename(tmp, name, src_dir_fd=dest, dst_dir_fd=dest)
        return Artifact(rel, size, digest.hexdigest())
    except OSError:
        try:
            os.unlink(tmp, dir_fd=dest)
        except OSError:
            pass
        return None


def tree_manifest(base: Path | str, rel: str) -> list[Artifact]:
    """The regular files under ``base/rel`` (size, sha256), found without following links and
    without opening anything but folders and regular files."""
    try:
        top = open_dir_nofollow(base, rel)
    except (FileNotFoundError, UnsafeRunFile):
        return []
    stack: list[tuple[int, str]] = [(top, "")]
    found: list[Artifact] = []
    try:
        while stack:
            fd, prefix = stack.pop()
            try:
                for name in os.listdir(fd):
                    shown = prefix + display_name(name)
                    try:
                        mode = os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode
                    except OSError:
                        continue
                    if stat.S_ISDIR(mode):
                        try:
                            stack.append((os.open(name, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW,
                                                  dir_fd=fd), shown + "/"))
                        except OSError:
                            pass
                    elif stat.S_ISREG(mode):
                        artifact = _hash_file(fd, name, shown)
                        if artifact is not None:
                            found.append(artifact)
            finally:
                os.close(fd)
    finally:
        for fd, _prefix in stack:
            os.close(fd)
    return sorted(found, key=lambda a: a.path)


def _hash_file(folder: int, name: str, shown: str) -> Artifact | None:
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | _NOFOLLOW, dir_fd=folder)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        digest, size = _sha256(), 0
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return Artifact(shown, size, digest.hexdigest())


def copy_tree_safely(src: Path, dest: Path) -> list[str]:
    """Copy the regular files under ``src`` to ``dest`` trusting only their parents (see
    ``copy_tree_nofollow``); returns what was refused, each with why."""
    return copy_tree_nofollow(src.parent, src.name, dest.parent, dest.name).refused
