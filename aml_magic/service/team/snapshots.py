"""The team server's side of a linked project's submit: a content-addressed blob store under
``<artifacts>/blobs/ab/cdef...`` (a blob is kept only if its body hashes to its name), and the
server-side project ``<artifacts>/projects/<name>/`` made to hold exactly the files of a
member's snapshot manifest. Members send only the blobs the server lacks, so a second submit
after changing one file sends one blob.

What a snapshot may not touch: the server's ``.aml/`` (its run history and run folders; only
``.aml/cells/``, the cells ``%%aml_submit`` exports, comes from members), ``.git``, and
``aml_config/*.compute`` (the server's targets, whose secrets are its own) and the link file
``aml_config/workspace.yml``."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aml_magic.domain.config import init_project
from aml_magic.domain.digest import sha256
from aml_magic.errors import ApiError
from aml_magic.service.team.names import check_project_name, check_relpath, check_sha, server_owned

if TYPE_CHECKING:
    from aml_magic.service.contract import models as M

#: Hashes one ``blobs/missing`` request may ask about.
MAX_HASHES = 200_000
_CHUNK = 1 << 20
#: A present blob's mtime is refreshed by ``missing`` once older than this (seconds).
REFRESH = 600.0
#: How a blob's upload in progress ends its name (``aml server gc`` removes stale ones).
TMP_SUFFIX = ".tmp"


class BlobStore:
    """Blobs named by the sha256 of their content; written atomically, verified first.

    A blob's mtime says when a member last needed it (its upload, or a ``missing`` that found
    it): ``aml server gc`` keeps every blob younger than its grace period, so a blob a member
    was told the server has is not removed before the snapshot that needs it arrives."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def path(self, sha: str) -> Path:
        return self.root / sha[:2] / sha[2:]

    def missing(self, hashes: Iterable[str]) -> list[str]:
        """The hashes the store lacks; those it has are marked as needed now (``touch``)."""
        wanted = list(dict.fromkeys(check_sha(h) for h in hashes))
        if len(wanted) > MAX_HASHES:
            raise ApiError(400, f"at most {MAX_HASHES} hashes per request")
        return [h for h in wanted if not self.touch(self.path(h))]

    @staticmethod
    def touch(path: Path) -> bool:
        """Whether PATH is a blob; its mtime is set to now unless set within ``REFRESH``
        (a big snapshot's ``missing`` must not cost a write per file)."""
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return False
        now = time.time()
        if now - mtime > REFRESH:
            try:
                os.utime(path, (now, now))
            except OSError:
                pass
        return path.is_file()

    def writer(self, sha: str) -> BlobWriter:
        """A temporary file next to where blob SHA goes, written and hashed a chunk at a time."""
        return BlobWriter(self, check_sha(sha))

    def put(self, sha: str, chunks: Iterable[bytes]) -> bool:
        """Keep CHUNKS as blob SHA if they hash to it (400 otherwise, nothing kept); False
        when the blob was there already."""
        if self.touch(self.path(check_sha(sha))):
            return False
        with self.writer(sha) as writer:
            for chunk in chunks:
                writer.write(chunk)
            return writer.commit()


class BlobWriter:
    """One upload of blob SHA: chunks go to a temporary file (``.<name>.*.tmp`` in the blob's
    folder, unique per upload) while they are hashed; ``commit`` keeps it as the blob only if
    the hash matches. Leaving the ``with`` block removes the temporary file whatever happened."""

    def __init__(self, store: BlobStore, sha: str) -> None:
        self.store, self.sha = store, sha
        final = store.path(sha)
        final.parent.mkdir(exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=TMP_SUFFIX,
                                    dir=final.parent)
        self.tmp = Path(name)
        self._file = os.fdopen(fd, "wb")
        self._digest = sha256(1 << 21)
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self._digest.update(chunk)
        self._file.write(chunk)
        self.size += len(chunk)

    def commit(self) -> bool:
        """Keep the upload as the blob (400, one line, nothing kept, if it hashes to another
        sha); False when an upload of the same blob got there first."""
        self._file.close()
        got = self._digest.hexdigest()
        if got != self.sha:
            self.close()                 # gone before the answer says so
            raise ApiError(400, f"blob refused: its body hashes to {got}, not {self.sha}")
        final = self.store.path(self.sha)
        if self.store.touch(final):      # an upload of the same blob got there first
            self.close()
            return False
        os.chmod(self.tmp, 0o444)
        os.replace(self.tmp, final)
        return True

    def close(self) -> None:
        self._file.close()
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ProjectSnapshots:
    """Server-side projects made to match members' manifests, one at a time per project
    (``lock``: held over the materialize and the submit that snapshots it; reentrant, as the
    submit takes it again)."""

    def __init__(self, projects: Path, blobs: BlobStore) -> None:
        self.projects = projects
        self.blobs = blobs
        self._locks: dict[str, threading.RLock] = {}
        self._guard = threading.Lock()

    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(name, threading.RLock())
        with lock:
            yield

    def materialize(self, name: str, files: Mapping[str, M.UploadedFileJson]) -> dict[str, int]:
        """Make ``projects/NAME`` hold exactly FILES (``{rel: {"sha256", "mode"}}``) besides
        what the server owns; counts of files written and removed. Checked in full first:
        a bad path or a blob the server lacks changes nothing (400 / 409, one line)."""
        check_project_name(name)
        wanted: dict[str, tuple[str, int]] = {}
        for rel, entry in files.items():
            sha = check_sha(str(entry.get("sha256", "")))
            wanted[check_relpath(rel)] = (sha, 0o755 if int(entry.get("mode", 0)) & 0o111
                                          else 0o644)
        lacking = self.blobs.missing({sha for sha, _ in wanted.values()})
        if lacking:     # the answer lists them: the client uploads those and asks again
            raise ApiError(409, f"{len(lacking)} blob(s) of the snapshot are not on the server "
                           f"(first {lacking[0]}); upload them with PUT workspace/blobs/SHA",
                           extra={"missing": sorted(lacking)})
        root = self.projects / name
        if not root.is_dir():
            init_project(root)       # the server's own default targets (local, docker)
        known = self._known(root)
        written = removed = 0
        for rel, (sha, mode) in wanted.items():
            dest = root / rel
            if _same(dest, known.get(rel), sha, mode):
                continue
            self._place(dest, self.blobs.path(sha), mode)
            written += 1
        for rel, is_dir in self._extras(root, set(wanted)):
            target = root / rel
            if is_dir:
                shutil.rmtree(target, ignore_errors=True)
            else:
                target.unlink(missing_ok=True)
            removed += 1
        self._record(root, wanted)
        return {"files": len(wanted), "written": written, "removed": removed}

    # -- what is on disk ----------------------------------------------------------------------
    def _state_path(self, root: Path) -> Path:
        return root / ".aml" / "team-snapshot.json"

    def _known(self, root: Path) -> dict[str, list[Any]]:
        """What the last materialize wrote: rel -> [sha, mode, size, mtime_ns]."""
        try:
            known = json.loads(self._state_path(root).read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}
        return known if isinstance(known, dict) else {}

    def _place(self, dest: Path, blob: Path, mode: int) -> None:
        if dest.is_dir() and not dest.is_symlink():
            shutil.rmtree(dest)
        for parent in reversed(dest.relative_to(self.projects).parents):
            folder = self.projects / parent
            if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
                folder.unlink()
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.aml-tmp")
        shutil.copyfile(blob, tmp)
        os.chmod(tmp, mode)
        os.replace(tmp, dest)

    def _extras(self, root: Path, wanted: set[str]) -> list[tuple[str, bool]]:
        """Paths under ROOT that are neither wanted nor the server's, top-most first."""
        folders = {p for rel in wanted for p in _parents(rel)} | {"aml_config"}  # targets
        extras: list[tuple[str, bool]] = []
        stack = [""]
        while stack:
            prefix = stack.pop()
            with os.scandir(root / prefix if prefix else root) as it:
                entries = list(it)
            for entry in entries:
                rel = prefix + entry.name
                if rel == ".aml" and (root / ".aml" / "cells").is_dir():
                    stack.append(".aml/cells/")      # members' exported cells: theirs
                if server_owned(rel):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    if rel in folders:
                        stack.append(rel + "/")
                    else:
                        extras.append((rel, True))
                elif rel not in wanted:
                    extras.append((rel, False))
        return extras

    def _record(self, root: Path, wanted: dict[str, tuple[str, int]]) -> None:
        state = {}
        for rel, (sha, mode) in wanted.items():
            st = (root / rel).lstat()
            state[rel] = [sha, mode, st.st_size, st.st_mtime_ns]
        path = self._state_path(root)
        path.parent.mkdir(exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(state), encoding="utf-8")
        os.replace(tmp, path)


def _same(dest: Path, known: list[Any] | None, sha: str, mode: int) -> bool:
    """DEST is what the last materialize wrote as SHA/MODE and has not changed since."""
    if known is None or known[:2] != [sha, mode]:
        return False
    try:
        st = dest.lstat()
    except FileNotFoundError:
        return False
    return [st.st_size, st.st_mtime_ns] == known[2:]


def _parents(rel: str) -> Iterator[str]:
    parts = rel.split("/")[:-1]
    for i in range(1, len(parts) + 1):
        yield "/".join(parts[:i])
