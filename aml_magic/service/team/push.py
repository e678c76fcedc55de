"""``aml history push``: a project's personal history (runs, status changes, metrics, the
artifact index) sent to the workspace in batches. The server stores each run idempotently, so a
push that was interrupted, or repeated, ends with the same shared history."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from aml_magic.domain.history import RunRecord, RunStore
from aml_magic.domain.history.schema import JSON_COLUMNS, RUN_COLUMNS, encode_value
from aml_magic.service.contract import models as M
from aml_magic.service.team.client import WorkspaceClient

BATCH = 200


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


def push_history(project: Path, client: WorkspaceClient, *, batch: int = BATCH,
                 progress: Callable[[int, int], None] | None = None) -> dict[str, list[str]]:
    """Push every run of PROJECT's history, oldest page last; the server's answers summed."""
    totals: dict[str, list[str]] = {"created": [], "updated": [], "not_owner": []}
    with RunStore(project) as store:
        total = store.count_runs()
        for offset in range(0, total, batch):
            records = store.list_runs(limit=batch, offset=offset)
            pushed: M.PushRequest = {"runs": [pushed_run(store, r) for r in records]}
            answer = client.post("workspace/runs", pushed, M.PushResultJson)
            for key, ids in (("created", answer.get("created", [])),
                             ("updated", answer.get("updated", [])),
                             ("not_owner", answer.get("not_owner", []))):
                totals[key] += list(ids)
            if progress is not None:
                progress(min(offset + batch, total), total)
    return totals
