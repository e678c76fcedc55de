"""The runs table of the Lab's main area (REST ``run-table``): one page of a project's runs,
sorted and filtered on the server by the history's query (``domain/history/table.py``), with
each run's latest metric values and parameters, and the names of every metric and parameter
(the columns the table may show)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aml_magic.domain.history.status import RunStatus
from aml_magic.domain.secrets import mask_value
from aml_magic.domain.history.table import (
    RunQuery, metric_names, param_names, param_values, query_runs, sort_key
)
from aml_magic.errors import ApiError
from aml_magic.service import schema

if TYPE_CHECKING:
    from aml_magic.service.contract.models import ProjectJson, RunTableJson
    from aml_magic.service.workspace import Workspace

#: Largest page of the table one request may ask for.
MAX_TABLE_PAGE = 500
#: Longest search text taken (a LIKE over every run: keep it a search, not a payload).
MAX_TEXT = 200


@dataclass(frozen=True)
class TableRequest:
    """The table's query parameters, as the REST handler read them (strings unchecked)."""

    sort: str = "start"
    order: str = "desc"
    statuses: Sequence[str] = ()
    target: str | None = None
    parent: str | None = None
    text: str = ""
    limit: int = 50
    offset: int = 0


def run_query(request: TableRequest) -> RunQuery:
    """The history query for REQUEST; 400 with one line saying what is wrong otherwise."""
    if not 0 < request.limit <= MAX_TABLE_PAGE or request.offset < 0:
        raise ApiError(400, f"limit must be 1..{MAX_TABLE_PAGE} and offset >= 0")
    if request.order not in ("asc", "desc"):
        raise ApiError(400, f"order must be 'asc' or 'desc', not {request.order!r}")
    known = {s.value for s in RunStatus}
    unknown = [s for s in request.statuses if s not in known]
    if unknown:
        raise ApiError(400, f"unknown status '{unknown[0]}'; one of {', '.join(sorted(known))}")
    if len(request.text) > MAX_TEXT:
        raise ApiError(400, f"the search text is longer than {MAX_TEXT} characters")
    try:
        sort_key(request.sort)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    return RunQuery(sort=request.sort, descending=request.order == "desc",
                    statuses=tuple(request.statuses), target=request.target or None,
                    parent=request.parent or None, text=request.text, offset=request.offset,
                    limit=request.limit)


def _masked(values: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Secret-looking names' values masked, as in ``aml history list``."""
    return {run_id: {name: mask_value(name, value) for name, value in row.items()}
            for run_id, row in values.items()}


def run_table(workspace: Workspace, project: ProjectJson, request: TableRequest) -> RunTableJson:
    """One page of the table for WORKSPACE (its active runs reconciled by the caller)."""
    query = run_query(request)
    store = workspace.store
    page = query_runs(store, query)
    ids = [r.run_id for r in page.records]
    return {"project": project,
            "runs": [schema.run_json(r) for r in page.records],
            "metrics": _masked(store.last_metric_values(ids) if ids else {}),
            "parameters": _masked(param_values(store, ids)),
            "metric_names": metric_names(store),
            "parameter_names": param_names(store),
            "total": page.total,
            "active": len(store.active_runs()),
            "sort": query.sort, "order": "desc" if query.descending else "asc",
            "limit": query.limit, "offset": query.offset}
