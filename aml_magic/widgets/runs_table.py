"""The ``%aml_runs`` table: recent runs with id, target, status, start, duration, key metrics.

A plain display object (HTML + text), so it renders the same in JupyterLab, nbconvert and a
terminal; it needs no widget manager.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from html import escape
from typing import Any, Iterable

from ._render import badge_html
from ._snapshot import elapsed_seconds, format_duration, format_value, group_metrics
from ..history.status import RunStatus

KEY_METRICS = 3


@dataclass
class RunRow:
    run_id: str
    target: str
    status: RunStatus
    started: str
    duration: str
    metrics: str


def _started(record: Any) -> str:
    when = getattr(record, "started_at", None) or getattr(record, "created_at", None)
    if when is None:
        return "-"
    return dt.datetime.fromtimestamp(float(when)).strftime("%Y-%m-%d %H:%M:%S")


def _key_metrics(run: Any) -> str:
    try:
        series = group_metrics(run.metrics())
    except Exception:  # noqa: BLE001 - a table row must not fail the whole listing
        return ""
    return ", ".join(f"{m.name}={format_value(m.last)}" for m in series[:KEY_METRICS])


def rows_of(runs: Iterable[Any]) -> list[RunRow]:
    rows = []
    for run in runs:
        record = run.record
        duration = elapsed_seconds(record) if getattr(record, "started_at", None) else None
        rows.append(RunRow(run.id, str(getattr(record, "target", "")),
                           RunStatus(record.status), _started(record),
                           format_duration(duration), _key_metrics(run)))
    return rows


class RunsTable:
    """What ``%aml_runs`` displays; ``rows`` is there for code and tests."""

    def __init__(self, runs: Iterable[Any], *, project: str = "", filters: str = "") -> None:
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
        header = ("RUN ID", "TARGET", "STATUS", "STARTED", "DURATION", "METRICS")
        table = [header] + [(r.run_id, r.target, r.status.value, r.started, r.duration, r.metrics)
                            for r in self.rows]
        widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
        lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:-1]))
                 + "  " + row[-1] for row in table]
        return self._title() + "\n" + "\n".join(line.rstrip() for line in lines)

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
