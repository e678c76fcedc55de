"""The outputs of the shared history's runs, served to members (reader role) by the server,
which never reads a member's disk: a pushed run's outputs are the blobs ``aml history push``
uploaded (content-addressed, ``snapshots.BlobStore``), looked up through the artifact index in
PostgreSQL; a run the server executed is served from its own run folder under
``<artifacts>/projects`` (``run_owners`` names the project), as the project route does."""
from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from aml_magic.domain.teamdb import TeamDatabase
from aml_magic.errors import ApiError
from aml_magic.service.api import AmlService
from aml_magic.service.team.names import SHA256
from aml_magic.service.team.snapshots import BlobStore

CHUNK = 1 << 20


class SharedArtifacts:
    def __init__(self, db: TeamDatabase, blobs: BlobStore, aml: AmlService) -> None:
        self.db = db
        self.blobs = blobs
        self.aml = aml

    def _index(self, run_id: str) -> tuple[list[tuple[str, int, str]], str | None]:
        """The run's artifact rows and the server project it ran in (None if pushed); 404
        when the shared history has no such run."""
        conn = self.db.connection()
        with conn.transaction():
            run = conn.execute("SELECT r.run_id, o.project FROM runs r LEFT JOIN run_owners o "
                               "ON o.run_id = r.run_id WHERE r.run_id = %s",
                               (run_id,)).fetchone()
            rows = conn.execute("SELECT path, size, sha256 FROM artifacts WHERE run_id = %s "
                                "ORDER BY path", (run_id,)).fetchall()
        if run is None:
            raise ApiError(404, f"the workspace's history has no run {run_id!r} (see `GET "
                           "workspace/runs`)")
        return [(str(p), int(s), str(h)) for p, s, h in rows], run[1]

    def _blob(self, sha: str) -> str | None:
        """The blob file of SHA, if SHA is a hash (a pushed index is the member's word: a
        path in its place must never name a file) and the blob is there."""
        if not SHA256.match(sha):
            return None
        path = self.blobs.path(sha)
        return str(path) if path.is_file() else None

    def list(self, run_id: str) -> dict[str, Any]:
        rows, project = self._index(run_id)
        return {"run_id": run_id, "artifacts": [
            {"path": path, "size": size, "sha256": sha,
             "stored": project is not None or self._blob(sha) is not None}
            for path, size, sha in rows]}

    def open(self, run_id: str, name: str) -> tuple[int, Iterator[bytes]]:
        """(size, chunks) of the output NAME of run RUN_ID (404, one line, if it has none or
        its file never reached the server)."""
        rows, project = self._index(run_id)
        found = next((row for row in rows if row[0] == name), None)
        if found is None:
            raise ApiError(404, f"run {run_id} has no output {name!r}")
        if project is not None:
            return self.aml.open_output(project, run_id, name)
        blob = self._blob(found[2])
        try:
            if blob is None:
                raise FileNotFoundError(found[2])
            fd = os.open(blob, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            raise ApiError(404, f"output {name!r} of run {run_id} was pushed without its file "
                           "(gone from the member's run folder); only its index is here") \
                from None
        size = os.fstat(fd).st_size

        def chunks() -> Iterator[bytes]:
            with os.fdopen(fd, "rb") as handle:
                while block := handle.read(CHUNK):
                    yield block
        return size, chunks()
