"""``aml history push``: a project's personal history (runs, status changes, metrics, the
artifact index) sent to the workspace in batches. The server stores each run idempotently, so a
push that was interrupted, or repeated, ends with the same shared history.

The runs' output files go up too, content-addressed through the workspace's blob store (the
one snapshots use): only the blobs the server lacks are sent, so pushing again sends none. An
output whose file is gone from the run folder (pruned), is a link, or no longer hashes to what
the history recorded is left out and counted; its index row still goes up."""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from aml_magic.domain.digest import sha256
from aml_magic.domain.history import RunRecord, RunStore
from aml_magic.domain.history.schema import JSON_COLUMNS, RUN_COLUMNS, encode_value
from aml_magic.domain.runfolder import open_file_nofollow
from aml_magic.errors import UnsafeRunFile
from aml_magic.service.contract import models as M
from aml_magic.service.team.client import WorkspaceClient
from aml_magic.service.team.names import SHA256

BATCH = 200
#: The largest output sent (the server's request body limit is 100 MiB, as for snapshots).
MAX_OUTPUT = 100 * 2**20


def pushed_run(store: RunStore, record: RunRecord) -> M.PushedRunJson:
    """RECORD and what hangs off it as the ``PushedRunJson`` the server takes."""
    fields = {}
    for column in RUN_COLUMNS:
        value = encode_value(column, getattr(record, column))
        fields[column] = json.loads(value) if column in JSON_COLUMNS else value
    fields["git_dirty"] = record.git_dirty
    return {
        "record": fields,
        "transitions": [[str(t.status), t.time, t.reason] for t in store.transitions(record.run_id)],
        "metrics": [[m.name, m.value, m.step, m.time] for m in store.metrics(record.run_id)],
        "artifacts": [[a.path, a.size, a.sha256] for a in store.artifacts(record.run_id)],
    }


def read_output(store: RunStore, run_id: str, path: str, sha: str) -> bytes | None:
    """The output PATH of run RUN_ID if it is still the file the history indexed as SHA (read
    without following a link anywhere under the run folder, as every reader of outputs)."""
    try:
        fd, info = open_file_nofollow(store.run_dir(run_id), f"outputs/{path}")
    except (UnsafeRunFile, OSError):
        return None
    with os.fdopen(fd, "rb") as handle:
        if info.st_size > MAX_OUTPUT:
            return None
        data = handle.read(MAX_OUTPUT + 1)
    digest = sha256(len(data))
    digest.update(data)
    return data if digest.hexdigest() == sha else None


def push_outputs(store: RunStore, records: Iterable[RunRecord],
                 client: WorkspaceClient) -> tuple[int, int, int]:
    """Send the blobs of RECORDS' outputs the server lacks: (blobs sent, bytes sent, outputs
    left out because their file is gone, too large or changed)."""
    where: dict[str, list[tuple[str, str]]] = {}     # sha -> the outputs that hold it
    for record in records:
        for artifact in store.artifacts(record.run_id):
            if SHA256.match(artifact.sha256):
                where.setdefault(artifact.sha256, []).append((record.run_id, artifact.path))
    if not where:
        return 0, 0, 0
    missing = client.request("POST", "workspace/blobs/missing",
                             {"hashes": sorted(where)})["missing"]
    blobs = sent = left_out = 0
    for sha in missing:
        for run_id, path in where.get(sha, []):
            data = read_output(store, run_id, path, sha)
            if data is not None:
                client.send("PUT", f"workspace/blobs/{sha}", data)
                blobs, sent = blobs + 1, sent + len(data)
                break
        else:
            left_out += len(where.get(sha, []))
    return blobs, sent, left_out


def push_history(project: Path, client: WorkspaceClient, *, batch: int = BATCH,
                 progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Push every run of PROJECT's history, oldest page last, each page's output files
    before its runs; the server's answers summed, with ``blobs``, ``bytes`` (what was sent)
    and ``left_out`` (outputs whose file could not be sent)."""
    totals: dict[str, Any] = {"created": [], "updated": [], "not_owner": [],
                              "blobs": 0, "bytes": 0, "left_out": 0}
    with RunStore(project) as store:
        total = store.count_runs()
        for offset in range(0, total, batch):
            records = store.list_runs(limit=batch, offset=offset)
            blobs, sent, left_out = push_outputs(store, records, client)
            totals["blobs"] += blobs
            totals["bytes"] += sent
            totals["left_out"] += left_out
            pushed: M.PushRequest = {"runs": [pushed_run(store, r) for r in records]}
            answer = client.post("workspace/runs", pushed, M.PushResultJson)
            for key, ids in (("created", answer.get("created", [])),
                             ("updated", answer.get("updated", [])),
                             ("not_owner", answer.get("not_owner", []))):
                totals[key] += list(ids)
            if progress is not None:
                progress(min(offset + batch, total), total)
    return totals
