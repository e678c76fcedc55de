"""``aml project restore`` in a linked project: the run's snapshot fetched from the workspace
server (``GET runs/ID/snapshot/manifest``, then ``runs/ID/snapshot/file?path=REL`` for each
content the destination lacks), with the personal verb's checks (``service/restore``): every
path is checked against the destination before anything is fetched (inside it, never into
``.git``/``.aml``, never through a link), every file's bytes are verified by the manifest's
sha256 as they arrive, and all of them are fetched into a private staging folder before the
first one is written, so a failed download writes nothing. Writing is ``apply_restore``'s
(folders opened without following links, modes 0644/0755, each file renamed into place)."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from aml_magic.domain.digest import sha256
from aml_magic.domain.plain_data import plain_data
from aml_magic.domain.snapshot.manifest import FileEntry, Manifest
from aml_magic.errors import AmlError
from aml_magic.service.restore import RestorePlan, refuse_unsafe_paths, sha256_of
from aml_magic.service.team.client import WorkspaceClient
from aml_magic.service.team.names import SHA256
from aml_magic.service.team.remote import LinkedProject

TYPE_CHECKING = False
if TYPE_CHECKING:
    from aml_magic.service.contract import models as M
_BLOCK = 256 * 1024


@plain_data
class FetchedSnapshot:
    run_id: str
    manifest: Manifest
    plan: RestorePlan       # sources: the staged, verified copies
    server_owned: int       # files of the server's own (its targets) it did not send


def manifest_of(answer: M.SnapshotManifestJson) -> Manifest:
    """The server's manifest as a ``Manifest``; a hash that is not one is refused (it names
    a staged file)."""
    files: dict[str, FileEntry] = {}
    for rel, entry in answer["files"].items():
        if not SHA256.match(str(entry["sha256"])):
            raise AmlError(f"the workspace's manifest of run {answer['run_id']} has "
                           f"{str(entry['sha256'])[:80]!r} as the hash of {rel[:200]!r}; "
                           "nothing was written")
        files[str(rel)] = FileEntry(str(entry["sha256"]), int(entry["size"]),
                                    int(entry["mode"]))
    return Manifest(files)


@contextmanager
def fetched(client: WorkspaceClient, linked: LinkedProject, run_id: str,
            dest: Path) -> Iterator[FetchedSnapshot]:
    """The run's snapshot planned against DEST and its missing contents staged, verified;
    the staging folder is removed when the block ends."""
    answer: M.SnapshotManifestJson = client.request(
        "GET", f"runs/{quote(run_id)}/snapshot/manifest" + linked.query())
    run = str(answer["run_id"])
    manifest = manifest_of(answer)
    skipped = refuse_unsafe_paths(manifest, dest, run)
    unchanged: list[str] = []
    wanted: dict[str, str] = {}          # rel -> sha, content dest does not have
    for rel, entry in manifest.files.items():
        if rel.startswith(".aml/"):
            continue
        if sha256_of(dest / rel) == entry.sha256:
            unchanged.append(rel)
        else:
            wanted[rel] = entry.sha256
    overwrites = [rel for rel in wanted if os.path.lexists(dest / rel)]
    import tempfile     # stdlib (~2 ms with random, weakref): a linked submit loads this module
    with tempfile.TemporaryDirectory(prefix="aml-restore-") as staging:
        staged: dict[str, Path] = {}
        for rel, sha in wanted.items():
            path = Path(staging) / sha
            if sha not in staged:
                _fetch(client, linked, run, rel, manifest.files[rel], path)
                staged[sha] = path
        plan = RestorePlan({rel: staged[sha] for rel, sha in wanted.items()}, unchanged,
                           overwrites, skipped)
        yield FetchedSnapshot(run, manifest, plan, int(answer["server_owned"]))


def _fetch(client: WorkspaceClient, linked: LinkedProject, run: str, rel: str,
           entry: FileEntry, path: Path) -> None:
    """File REL's bytes into PATH; refused unless they are its SIZE bytes hashing to its sha."""
    digest, size = sha256(entry.size), 0
    answer = client.open(f"runs/{quote(run)}/snapshot/file" + linked.query(path=rel))
    with answer, open(path, "xb") as copy:
        while block := answer.read(_BLOCK):
            size += len(block)
            if size > entry.size:
                break
            digest.update(block)
            copy.write(block)
    if size != entry.size or digest.hexdigest() != entry.sha256:
        raise AmlError(f"the workspace sent other content for {rel} of run {run} than its "
                       "snapshot's manifest says; nothing was written")
