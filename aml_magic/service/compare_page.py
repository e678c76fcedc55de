"""The Lab's compare page (REST ``compare``) and its sweep filter (REST ``sweeps``).

``compare`` is the CLI's comparison (``service/compare.py``: the same rows, metric names and
differing environment variables) plus what a page draws: each run's parameters (as the runs
table reads them) and its numeric metric series, thinned to at most ``MAX_POINTS`` points a
series so a run that logged a million steps still answers in one small reply.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aml_magic.domain.history.sweeps import sweep_parents
from aml_magic.domain.history.table import param_values
from aml_magic.domain.secrets import mask_value
from aml_magic.errors import ApiError
from aml_magic.service.compare import comparison, metric_series, select_records

if TYPE_CHECKING:
    from aml_magic.service.compare import Series
    from aml_magic.service.contract.models import ProjectJson, RunComparisonJson, SweepListJson
    from aml_magic.service.workspace import Workspace

#: Most runs one compare page shows side by side (a sweep larger than this is cut, newest kept).
MAX_RUNS = 200
#: Most points a series carries to the page (evenly spaced; the first and last always kept).
MAX_POINTS = 1000
#: Most sweeps the filter lists (newest first).
MAX_SWEEPS = 500


def compare_page(workspace: Workspace, project: ProjectJson, run_ids: Sequence[str],
                 sweep: str | None) -> RunComparisonJson:
    """The runs RUN_IDS (or the children of SWEEP) side by side, with parameters and series."""
    if not run_ids and not sweep:
        raise ApiError(400, "compare needs runs (?run=ID, repeated) or a sweep (?sweep=ID)")
    if len(run_ids) > MAX_RUNS:
        raise ApiError(400, f"compare takes at most {MAX_RUNS} runs, not {len(run_ids)}")
    records = select_records(workspace, list(dict.fromkeys(run_ids)), sweep=sweep or None,
                             command="compare")
    records = records[-MAX_RUNS:]
    store = workspace.store
    ids = [r.run_id for r in records]
    params = {run_id: {name: mask_value(name, value) for name, value in row.items()}
              for run_id, row in param_values(store, ids).items()}
    names = sorted({name for row in params.values() for name in row})
    series = {run_id: {name: _thinned(points) for name, points in per_name.items()
                       if _numeric(points)}
              for run_id, per_name in metric_series(store, records).items()}
    return {"project": project, **comparison(store, records), "parameters": params,
            "parameter_names": names, "series": series}


def sweep_list(workspace: Workspace) -> SweepListJson:
    """The project's sweeps (parents of child runs), newest first, with their child counts."""
    found = sweep_parents(workspace.store, limit=MAX_SWEEPS)
    return {"sweeps": [{"run_id": record.run_id, "name": record.script or record.run_id,
                        "status": record.status.value, "created_at": record.created_at,
                        "children": count} for record, count in found]}


def _numeric(points: Series) -> bool:
    """A series to draw: at least one finite number (not a list, text or bool)."""
    return any(_number(v) is not None for _, v in points)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _thinned(points: Series) -> list[list[float]]:
    """``[[step, value], ...]`` of the numeric points, at most MAX_POINTS evenly spaced."""
    numbers = [[float(step), v] for step, value in points
               if (v := _number(value)) is not None]
    if len(numbers) <= MAX_POINTS:
        return numbers
    stride = (len(numbers) - 1) / (MAX_POINTS - 1)
    return [numbers[round(i * stride)] for i in range(MAX_POINTS)]
