"""A run's snapshot served to members, so ``aml project restore`` works in a linked project:
the manifest the server's history kept at submit (``GET runs/ID/snapshot/manifest``, every
file with its sha256) and one file's bytes (``GET runs/ID/snapshot/file?path=REL``).

A path is only ever looked up in that manifest, never on the file system as given; its
content is found by the manifest's sha256: the content-addressed blob store first (named by
hash, so no path of the member's is involved), then the run's work copy and the server's
project, each opened without following a link anywhere on the way. Bytes are served only
when they hash to the manifest's sha256. The server's own files (its targets, its ``.aml/``:
``names.server_owned``, and the record of the shared targets it wrote into the project) are
never listed nor served."""
from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

from aml_magic.domain.history.manifests import kept_manifest
from aml_magic.domain.nofollow import open_file_nofollow
from aml_magic.domain.snapshot.manifest import Manifest
from aml_magic.errors import ApiError, UnsafeRunFile
from aml_magic.service.contract import models as M
from aml_magic.service.team.names import server_owned
from aml_magic.service.workspace import Workspace

_CHUNK = 1 << 20


def run_manifest(workspace: Workspace, run_id: str) -> tuple[str, Manifest]:
    """The run's id and the manifest the history kept; 404 in one line when there is none."""
    record = workspace.run(run_id).record
    manifest = kept_manifest(workspace.store.aml_dir, record.snapshot_digest)
    if manifest is None:
        raise ApiError(404, f"run {record.run_id} has no snapshot manifest kept by the "
                            "workspace's history (submitted before its snapshot was taken, "
                            "or the kept copy is not that snapshot's); nothing to restore")
    return record.run_id, manifest


def manifest_json(workspace: Workspace, run_id: str) -> M.SnapshotManifestJson:
    run, manifest = run_manifest(workspace, run_id)
    files: dict[str, M.SnapshotManifestFileJson] = {
        rel: {"sha256": e.sha256, "size": e.size, "mode": e.mode}
        for rel, e in manifest.files.items() if not server_owned(rel)}
    return {"run_id": run, "digest": manifest.digest, "files": files,
            "server_owned": len(manifest.files) - len(files)}


def open_file(workspace: Workspace, run_id: str, rel: str,
              blob_path: Callable[[str], Path]) -> tuple[int, Iterator[bytes]]:
    """(size, chunks) of file REL of the run's snapshot, verified against its sha256."""
    run, manifest = run_manifest(workspace, run_id)
    entry = manifest.files.get(rel)
    if entry is None or server_owned(rel):
        raise ApiError(404, f"{rel[:200]!r} is not a file of run {run}'s snapshot")
    blob = blob_path(entry.sha256)
    places = [(blob.parent, blob.name), (workspace.run(run).folder / "work", rel),
              (workspace.root, rel)]
    for base, name in places:
        fd = _open_verified(base, name, entry.sha256)
        if fd is not None:
            return entry.size, _chunks(fd, entry.size)
    raise ApiError(410, f"the content of {rel} of run {run}'s snapshot exists nowhere on the "
                        "server any more (its blob was collected and the run's work copy and "
                        "the project changed)")


def _open_verified(base: Path, rel: str, sha256: str) -> int | None:
    """An fd at the start of regular file BASE/REL whose content hashes to SHA256, or None."""
    try:
        fd, info = open_file_nofollow(base, rel)
    except (OSError, UnsafeRunFile):
        return None
    try:
        if not stat.S_ISREG(info.st_mode):
            raise OSError("not a regular file")
        digest = hashlib.sha256()
        while block := os.read(fd, _CHUNK):
            digest.update(block)
        if digest.hexdigest() != sha256:
            raise OSError("other content")
        os.lseek(fd, 0, os.SEEK_SET)
    except OSError:
        os.close(fd)
        return None
    return fd


def _chunks(fd: int, size: int) -> Iterator[bytes]:
    """At most SIZE bytes (the Content-Length said), a chunk at a time; the fd is closed."""
    left = size
    with os.fdopen(fd, "rb") as handle:
        while left > 0 and (block := handle.read(min(_CHUNK, left))):
            left -= len(block)
            yield block
