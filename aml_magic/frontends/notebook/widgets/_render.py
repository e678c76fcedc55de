"""Text and HTML renderings of a run snapshot: the pieces of the live widget, and the fallback
shown where widgets cannot render (nbconvert, a plain terminal, a front end without widgets)."""
from __future__ import annotations

import time
from html import escape
from typing import Sequence

from aml_magic.domain.history.status import RunStatus
from aml_magic.frontends.notebook.widgets._snapshot import (
    MetricSeries, RunSnapshot, format_duration, format_size, format_value
)

BADGE_COLORS = {
    RunStatus.QUEUED: "#6c757d", RunStatus.PREPARING: "#6f42c1", RunStatus.RUNNING: "#0d6efd",
    RunStatus.FINALIZING: "#17a2b8", RunStatus.COMPLETED: "#198754", RunStatus.FAILED: "#dc3545",
    RunStatus.CANCELED: "#fd7e14",
}
TEXT_TAIL_LINES = 10


def sparkline_svg(values: Sequence[float], *, width: int = 120, height: int = 24) -> str:
    """A tiny inline SVG line chart; no plotting library needed."""
    if len(values) < 2:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = (width - 4) / (len(values) - 1)
    points = " ".join(
        f"{2 + i * step:.1f},{height - 2 - (v - low) / span * (height - 4):.1f}"
        for i, v in enumerate(values))
    return (f'<svg class="aml-sparkline" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
            f'<polyline fill="none" stroke="#0d6efd" stroke-width="1.5" points="{points}"/></svg>')


def badge_html(status: RunStatus) -> str:
    color = BADGE_COLORS.get(status, "#6c757d")
    return (f'<span class="aml-status" style="background:{color};color:white;border-radius:4px;'
            f'padding:1px 8px;font-weight:600">{escape(status.value)}</span>')


def header_html(snap: RunSnapshot) -> str:
    config = (f" · config <code>{escape(snap.run_configuration)}</code>"
              if snap.run_configuration else "")
    extra = ""
    if snap.is_terminal and snap.exit_code is not None:
        extra += f" · exit code {escape(str(snap.exit_code))}"
    if snap.reason and snap.status in (RunStatus.FAILED, RunStatus.CANCELED, RunStatus.QUEUED):
        extra += f" · {escape(snap.reason)}"        # Queued: the scheduler's reason (Slurm)
    if snap.spark_app:
        extra += f" · Spark <code>{escape(snap.spark_app)}</code>"
    if snap.slurm_job:
        extra += f" · Slurm job <code>{escape(snap.slurm_job)}</code>"
    if snap.python:
        extra += f" · <span class=\"aml-python\">python <code>{escape(snap.python)}</code></span>"
    if snap.hint:
        extra += f'<div class="aml-hint" style="color:#b35c00">hint: {escape(snap.hint)}</div>'
    if snap.isolation:
        extra += (f'<div class="aml-isolation" style="color:#b35c00">isolation '
                  f"{escape(snap.isolation)}</div>")
    error = (f'<div style="color:#dc3545">refresh failed: {escape(snap.error)}</div>'
             if snap.error else "")
    return (f'<div class="aml-run-header"><b>Run</b> <code>{escape(snap.run_id)}</code> '
            f"on <b>{escape(snap.target)}</b> ({escape(snap.target_type)}){config} "
            f"{badge_html(snap.status)}{as_of_html(snap)} "
            f'<span class="aml-elapsed">{escape(format_duration(snap.elapsed))}</span>{extra}'
            f"</div>{error}")


def as_of(snap: RunSnapshot) -> str:
    """When a live status was read (UTC): a saved notebook keeps the last one it was shown."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(snap.seen_at))


def not_live(snap: RunSnapshot) -> str:
    """For a saved or static output of a run not yet ended: its status is the last known one."""
    return (f"{snap.status.value} is the last known status, at {as_of(snap)}; this output is not "
            f"live: `%aml_run {snap.run_id}` or `aml run show {snap.run_id}` gives the current one")


def as_of_html(snap: RunSnapshot) -> str:
    if snap.is_terminal:
        return ""
    return (f' <span class="aml-asof" style="color:#6c757d;font-size:85%">as of '
            f"{escape(as_of(snap)[11:])}</span>")


def log_html(text: str, *, truncated: bool = False, max_height: int = 240) -> str:
    """Log lines in a box that stays scrolled to the bottom: ``column-reverse`` anchors the
    scroll position at the end without any JavaScript."""
    note = ('<div style="color:#6c757d;font-size:90%">… earlier lines hidden; '
            'use "show full log"</div>' if truncated else "")
    body = escape(text) if text else '<span style="color:#6c757d">(no output yet)</span>'
    return (f'{note}<div class="aml-log" style="max-height:{max_height}px;overflow:auto;'
            'display:flex;flex-direction:column-reverse;border:1px solid #ddd;padding:4px">'
            f'<pre style="margin:0;white-space:pre-wrap">{body}</pre></div>')


def metrics_html(metrics: list[MetricSeries]) -> str:
    if not metrics:
        return '<span style="color:#6c757d">(no metrics logged)</span>'
    rows = []
    for series in metrics:
        chart = sparkline_svg(series.numbers) if series.is_series else ""
        count = f" ({len(series.values)} values)" if series.is_series else ""
        rows.append(f"<tr><td><b>{escape(series.name)}</b></td>"
                    f"<td>{escape(format_value(series.last))}{count}</td><td>{chart}</td></tr>")
    return ('<table class="aml-metrics"><tr><th>metric</th><th>last value</th><th></th></tr>'
            + "".join(rows) + "</table>")


def environment_html(environment: dict[str, str]) -> str:
    if not environment:
        return '<span style="color:#6c757d">(no environment variables)</span>'
    rows = "".join(f"<tr><td><code>{escape(k)}</code></td><td><code>{escape(v)}</code></td></tr>"
                   for k, v in sorted(environment.items()))
    return f'<table class="aml-env"><tr><th>name</th><th>value</th></tr>{rows}</table>'


def outputs_html(outputs: list[tuple[str, int]]) -> str:
    if not outputs:
        return '<span style="color:#6c757d">(no files under ./outputs/ yet)</span>'
    items = "".join(f"<li><code>outputs/{escape(p)}</code> ({escape(format_size(s))})</li>"
                    for p, s in outputs)
    return f'<ul class="aml-outputs">{items}</ul>'


def build_html(snap: RunSnapshot) -> str:
    """The environment build the submit triggered: open while the run is being prepared,
    folded once it runs (``aml run logs ID --environment`` has all of it)."""
    if not snap.build_tail:
        return ""
    preparing = snap.status in (RunStatus.QUEUED, RunStatus.PREPARING)
    return (f'<details class="aml-build"{" open" if preparing else ""}><summary>environment '
            f"build (last lines)</summary>{log_html(snap.build_tail, max_height=160)}</details>")


def summary_html(snap: RunSnapshot) -> str:
    """The static fallback: everything the widget shows, as one HTML block."""
    tail = "\n".join(snap.log_tail.splitlines()[-TEXT_TAIL_LINES:])
    stale = ("" if snap.is_terminal else
             f'<div class="aml-not-live" style="color:#6c757d">{escape(not_live(snap))}</div>')
    return (f'<div class="aml-run-summary">{header_html(snap)}{stale}{build_html(snap)}'
            f"<details open><summary>log (last lines)</summary>{log_html(tail)}</details>"
            f"<details open><summary>metrics</summary>{metrics_html(snap.metrics)}</details>"
            f"<details><summary>environment</summary>{environment_html(snap.environment)}</details>"
            f"<details open><summary>outputs</summary>{outputs_html(snap.outputs)}</details></div>")


def summary_text(snap: RunSnapshot) -> str:
    """The plain-text fallback for terminals and nbconvert --to markdown/script."""
    ended = snap.is_terminal and snap.exit_code is not None
    lines = [f"Run {snap.run_id} on {snap.target} ({snap.target_type}): {snap.status.value}, "
             f"{format_duration(snap.elapsed)}" + (f", exit code {snap.exit_code}" if ended else "")]
    if snap.reason and snap.status in (RunStatus.FAILED, RunStatus.CANCELED, RunStatus.QUEUED):
        lines.append(f"  reason: {snap.reason}")
    if not snap.is_terminal:
        lines.append(f"  {not_live(snap)}")
    if snap.hint:
        lines.append(f"  hint: {snap.hint}")
    if snap.spark_app:
        lines.append(f"  spark app: {snap.spark_app}")
    if snap.slurm_job:
        lines.append(f"  slurm job: {snap.slurm_job}")
    if snap.python:
        lines.append(f"  python: {snap.python}")
    if snap.isolation:
        lines.append(f"  isolation: {snap.isolation}")
    if snap.build_tail and snap.status in (RunStatus.QUEUED, RunStatus.PREPARING):
        lines.append("  environment build (last lines):")
        lines.extend(f"    {line}" for line in snap.build_tail.splitlines()[-TEXT_TAIL_LINES:])
    tail = snap.log_tail.splitlines()[-TEXT_TAIL_LINES:]
    if tail:
        lines.append("  log (last lines):")
        lines.extend(f"    {line}" for line in tail)
    if snap.metrics:
        lines.append("  metrics: " + ", ".join(
            f"{m.name}={format_value(m.last)}"
            + (f" ({len(m.values)} values)" if m.is_series else "")
            for m in snap.metrics))
    if snap.outputs:
        lines.append("  outputs: " + ", ".join(f"outputs/{p} ({format_size(s)})"
                                               for p, s in snap.outputs))
    return "\n".join(lines)


class RunSummary:
    """A static display object for a run: HTML and text, no widget (used without ipywidgets)."""

    def __init__(self, snap: RunSnapshot) -> None:
        self.snapshot = snap

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        return {"text/plain": summary_text(self.snapshot), "text/html": summary_html(self.snapshot)}
