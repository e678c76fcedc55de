"""A snapshot's files leaving the project: copied into a local run folder (``materialize``) or
streamed to a remote object store as a tar of only the objects it lacks
(``write_objects_tar``). Either way a file that changed since the snapshot is refused, so a
run never gets content its manifest does not name."""
from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from aml_magic.domain.digest import sha256
from aml_magic.errors import AmlError
from aml_magic.domain.snapshot.manifest import (
    _CHUNK, FileEntry, Manifest, _check_relpath, _hash_file, _HashCache, hash_cache_path
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, BinaryIO


def materialize(manifest: Manifest, project_root: Path, dest: Path, *,
                verify: bool = False) -> None:
    """Copy the manifest's files from the project into ``dest`` (real copies, never hardlinks,
    so later project edits do not change the run). ``verify`` re-hashes each copy and raises
    if the project file changed since the snapshot.

    The copy is made under ``.<dest>.partial-<pid>-<random>`` beside ``dest`` and renamed into
    place when complete: a failure removes it; a submitter killed mid-copy leaves it under a
    name the next look at the run recognises and removes (``history/stale.py``)."""
    root = Path(project_root)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.parent / f".{dest.name}.partial-{os.getpid()}-{os.urandom(3).hex()}"
    try:
        _copy_files(manifest, root, partial, verify=verify)
        if dest.exists():
            import shutil  # a copy already there (rare): shutil stays off the submit path
            shutil.rmtree(dest)
        os.rename(partial, dest)
    except BaseException:
        import shutil  # a failed copy (rare): shutil stays off the submit path
        shutil.rmtree(partial, ignore_errors=True)
        raise


def _copy_files(manifest: Manifest, root: Path, dest: Path, *, verify: bool) -> None:
    dest.mkdir(mode=0o700)              # a run's copy: only its owner (history folders are 0700)
    made: set[Path] = {dest}
    for rel, entry in manifest.files.items():
        _check_relpath(rel)
        target = dest / rel
        parent = target.parent
        if parent not in made:
            parent.mkdir(parents=True, exist_ok=True)
            made.add(parent)
        try:
            _copy_file(root / rel, target)  # follows an inside-project symlink
        except OSError as exc:
            raise AmlError(f"{root / rel}: cannot copy into the run ({exc.strerror}); "
                           "resubmit the run") from exc
        os.chmod(target, entry.mode)
        if verify and _hash_file(str(target)) != entry.sha256:
            raise AmlError(f"{root / rel}: changed while the run was being submitted; resubmit")


def _copy_file(src: Path, dst: Path) -> None:
    """``shutil.copyfile`` of a regular file (``sendfile``, as it does on Linux), without
    importing ``shutil`` (with ``bz2`` and ``lzma``, ~3 % of ``aml experiment submit``).
    Anything but a regular file is refused: a FIFO swapped in is opened without blocking."""
    fd = os.open(src, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(src))
        out = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
        try:
            offset = 0
            block = max(st.st_size, 1 << 23)
            try:
                while sent := os.sendfile(out, fd, offset, block):
                    offset += sent
            except OSError as exc:   # a file system or system without file-to-file sendfile
                if offset or exc.errno not in (errno.EINVAL, errno.ENOTSOCK, errno.ENOSYS,
                                               errno.EOPNOTSUPP):
                    raise
                while data := os.read(fd, 1 << 20):
                    view = memoryview(data)
                    while view:
                        view = view[os.write(out, view):]
        finally:
            os.close(out)
    finally:
        os.close(fd)


def missing(manifest: Manifest, have: Iterable[str]) -> list[str]:
    """The shas of the manifest a content-addressed store lacks, each once, sorted."""
    have_set = set(have)
    return sorted(manifest.shas() - have_set)


_TAR_RECORD = 10240
_USTAR_MAX_SIZE = 8 ** 11


def _tar_header(name: str, size: int, mode: int) -> bytes:
    """A ustar header of a regular file (uid/gid/mtime 0), built directly: ``tarfile`` costs
    ~50 us a member, which 10,000 small files feel. Names plain ustar cannot hold (long or
    non-ASCII) and sizes of 8 GiB or more get ``tarfile``'s PAX header instead."""
    raw = name.encode("ascii") if name.isascii() else b""
    if not raw or len(raw) > 100 or size >= _USTAR_MAX_SIZE:
        # the rare case: tarfile is not imported otherwise
        import tarfile
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = size, mode, 0
        return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
    head = (raw.ljust(100, b"\0") + b"%07o\0" % mode + b"0000000\0" * 2 + b"%011o\0" % size
            + b"00000000000\0" + b" " * 8 + b"0" + b"\0" * 100 + b"ustar\x0000"
            + b"\0" * 247)
    return head[:148] + b"%06o\0 " % sum(head) + head[156:]


def _changed(path: Path) -> AmlError:
    return AmlError(f"{path}: changed while the run was being submitted; resubmit")


def write_objects_tar(manifest: Manifest, project_root: Path, shas: Iterable[str],
                      fileobj: BinaryIO, *, compress: bool = False, by_path: bool = False) -> int:
    """Write a tar stream holding each of ``shas`` once to ``fileobj``; members are named by
    sha, or with ``by_path`` by the first path holding that content (with its mode), so a
    receiver can extract straight into a working tree. ``compress`` gzips it at level 1 (cheap
    CPU, useful on slow links). Returns the member count.

    A file that no longer matches the manifest raises before its last chunk is written, so it
    never arrives complete. It is re-hashed while read unless the snapshot's hash cache vouches
    for it (same size, mtime and inode before and after the read, and the manifest's sha), the
    same evidence the snapshot itself relied on."""
    root = Path(project_root)
    by_sha: dict[str, tuple[str, FileEntry]] = {}
    for rel, entry in manifest.files.items():
        by_sha.setdefault(entry.sha256, (rel, entry))
    cache = _HashCache(hash_cache_path(root))
    if compress:
        import gzip
    out: Any = gzip.GzipFile(fileobj=fileobj, mode="wb", compresslevel=1, mtime=0) \
        if compress else fileobj
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    written = count = 0
    try:
        for sha in dict.fromkeys(shas):
            if sha not in by_sha:
                raise AmlError(f"object {sha} is not in the snapshot manifest")
            rel, entry = by_sha[sha]
            _check_relpath(rel)
            path = root / rel
            with open(path, "rb", buffering=0) as f:
                st = os.fstat(f.fileno())
                if st.st_size != entry.size:
                    raise _changed(path)
                digest = None if cache.lookup(rel, st) == sha else sha256(entry.size)
                header = _tar_header(rel if by_path else sha, entry.size,
                                     entry.mode if by_path else 0o644)
                out.write(header)
                left = entry.size
                while left:
                    n = f.readinto(view[:min(left, _CHUNK)])
                    if not n:
                        raise _changed(path)          # shorter than the snapshot saw
                    left -= n
                    if digest is not None:
                        digest.update(view[:n])
                    if not left:                      # last chunk: check before sending it
                        if digest is not None and digest.hexdigest() != sha:
                            raise _changed(path)
                        after = os.fstat(f.fileno())
                        if digest is None and (after.st_mtime_ns, after.st_size) != \
                                (st.st_mtime_ns, st.st_size):
                            raise _changed(path)
                    out.write(view[:n])
                pad = -entry.size % 512
                out.write(b"\0" * pad)
                written += len(header) + entry.size + pad
            count += 1
        out.write(b"\0" * (-(written + 1024) % _TAR_RECORD + 1024))   # end of archive
    finally:
        if compress:
            out.close()
    return count
