"""The comparison of runs that ``aml history compare`` prints and ``%aml_compare`` draws: which
runs (ids, the N newest, or a sweep's children), and their side-by-side data (arguments, the
environment variables that differ, last metric values, duration, interpreter).

One builder for both front ends, so the CLI's table and the notebook's widget cannot disagree;
``history_rows`` and ``metric_names`` are also the rows and columns of ``aml history list``.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aml_magic.errors import AmlError
from aml_magic.service.schema import history_run_json

if TYPE_CHECKING:
    from aml_magic.domain.history.records import RunRecord
    from aml_magic.service.contract.models import ComparedRunJson, ComparisonJson, HistoryRunJson
    from aml_magic.domain.history.store import RunStore
    from aml_magic.service.workspace import Workspace

#: One metric series of one run: ``(step, value)`` pairs in step order.
Series = list[tuple[int, Any]]


def select_records(ws: Workspace, run_ids: Sequence[str] = (), *, last: int | None = None,
                   sweep: str | None = None, command: str = "history compare") -> list[RunRecord]:
    """The runs to compare: RUN_IDs (unique prefixes will do), the ``last`` N newest, or the
    child runs of the ``sweep`` parent; exactly one of the three."""
    given = [name for name, used in (("RUN_ID...", bool(run_ids)), ("--last N", last is not None),
                                     ("--sweep ID", sweep is not None)) if used]
    if len(given) > 1:
        raise AmlError(f"{command}: give one of run ids, --last N or --sweep ID, not "
                       + " and ".join(given))
    if last is not None:
        if last < 1:
            raise AmlError(f"{command}: --last N needs N >= 1")
        return ws.store.list_runs(limit=last)
    if sweep is not None:
        parent = ws.run(sweep).record
        children = ws.store.children(parent.run_id)
        if not children:
            raise AmlError(f"{command}: run {parent.run_id} has no child runs (is it a sweep's "
                           "parent? `aml history list` shows the runs)")
        return children
    if run_ids:
        return [ws.run(run_id).record for run_id in run_ids]
    raise AmlError(f"{command}: name runs (RUN_ID...), --last N or --sweep ID")


def comparison(store: RunStore, records: Sequence[RunRecord]) -> ComparisonJson:
    """``{"runs": [history rows + "python"], "metrics": [names], "environment_differences":
    [variable names]}``: the JSON of ``aml history compare -o json``."""
    records = list(records)
    last = store.last_metric_values(r.run_id for r in records)
    rows: list[ComparedRunJson] = [{**row, "python": _interpreter(record)}
                                   for row, record in zip(history_rows(records, last), records)]
    names = metric_names(records, last)
    keys = sorted({k for row in rows for k in row["environment"]})
    differing = [k for k in keys if len({row["environment"].get(k) for row in rows}) > 1]
    return {"runs": rows, "metrics": names, "environment_differences": differing}


def history_rows(records: list[RunRecord], last: dict[str, dict[str, Any]]) -> list[HistoryRunJson]:
    """Runs as ``schema.history_run_json`` rows (their JSON form, what ``--query`` reads)."""
    return [history_run_json(r, last.get(r.run_id, {})) for r in records]


def metric_names(records: list[RunRecord], last: dict[str, dict[str, Any]]) -> list[str]:
    """The union of the runs' metric names, in first-seen order (newest run first)."""
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(last.get(record.run_id, ())))
    return list(names)


def metric_series(store: RunStore, records: Sequence[RunRecord]) -> dict[str, dict[str, Series]]:
    """For each run id, each metric name's ``(step, value)`` pairs (a value logged once is a
    one-point series). Steps the store left empty count from 0 in logging order."""
    found: dict[str, dict[str, Series]] = {}
    for record in records:
        per_name: dict[str, Series] = {}
        for metric in store.metrics(record.run_id):
            points = per_name.setdefault(metric.name, [])
            step = metric.step if metric.step is not None else len(points)
            points.append((int(step), metric.value))
        found[record.run_id] = per_name
    return found


def _interpreter(record: RunRecord) -> str | None:
    """The interpreter a run used, short enough to sit beside others: the resolved path and
    version (the path it was started by is in ``aml history info``)."""
    resolved = record.provenance.get("python")
    version = record.provenance.get("python_version")
    if isinstance(resolved, str) and isinstance(version, str):
        return f"{resolved} ({version})"
    return record.target_state.python          # runs recorded before provenance
