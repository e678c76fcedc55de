"""The ``%aml_runs`` table: recent runs with id, target, status, start, duration, key metrics.

A plain display object (HTML + text), so it renders the same in JupyterLab, nbconvert and a
terminal; it needs no widget manager.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

from aml_magic.domain.history.status import RunStatus
from aml_magic.frontends.render import METRICS_COLUMN, RUN_COLUMNS, key_metrics, run_row, table
from aml_magic.frontends.notebook.widgets._render import badge_html
from aml_magic.frontends.notebook.widgets._snapshot import group_metrics

if TYPE_CHECKING:
    from aml_magic.service.run import Run


@dataclass
class RunRow:
    run_id: str
    target: str
    status: RunStatus
    started: str
    duration: str
    metrics: str


def _key_metrics(run: Run) -> str:
    try:
        series = group_metrics(run.metrics())
    except Exception:  # noqa: BLE001 - a table row must not fail the whole listing
        return ""
    return key_metrics((m.name, m.last) for m in series)


def rows_of(runs: Iterable[Run]) -> list[RunRow]:
    rows = []
    for run in runs:
        record = run.record
        cells = run_row(record, metrics=_key_metrics(run))
        rows.append(RunRow(run.id, cells["target"], RunStatus(record.status), cells["started"],
                           cells["duration"], cells["metrics"]))
    return rows


class RunsTable:
    """What ``%aml_runs`` displays; ``rows`` is there for code and tests."""

    def __init__(self, runs: Iterable[Run], *, project: str = "", filters: str = "") -> None:
        self.rows = rows_of(runs)
        self.project = project
        self.filters = filters

    def _title(self) -> str:
        where = f" in {self.project}" if self.project else ""
        return f"{len(self.rows)} run(s){where}" + (f" ({self.filters})" if self.filters else "")

    def text(self) -> str:
        if not self.rows:
            return f"No runs{' in ' + self.project if self.project else ''}" + (
                f" ({self.filters})" if self.filters else "") + "."
        cells = [{"run_id": r.run_id, "target": r.target, "status": r.status.value,
                  "started": r.started, "duration": r.duration, "metrics": r.metrics}
                 for r in self.rows]
        return self._title() + "\n" + table(cells, RUN_COLUMNS + (METRICS_COLUMN,))

    def html(self) -> str:
        if not self.rows:
            return f"<p>{escape(self.text())}</p>"
        body = "".join(
            f"<tr><td><code>{escape(r.run_id)}</code></td><td>{escape(r.target)}</td>"
            f"<td>{badge_html(r.status)}</td><td>{escape(r.started)}</td>"
            f"<td>{escape(r.duration)}</td><td>{escape(r.metrics)}</td></tr>" for r in self.rows)
        return (f"<div class='aml-runs'><b>{escape(self._title())}</b><table>"
                "<tr><th>run id</th><th>target</th><th>status</th><th>started</th>"
                f"<th>duration</th><th>metrics</th></tr>{body}</table></div>")

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        return {"text/plain": self.text(), "text/html": self.html()}
