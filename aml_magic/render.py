"""Plain-text renderings of runs shared by the CLI and the magics' text fallbacks."""
from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any, Sequence

from .history.records import RunRecord


def format_time(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def record_to_dict(record: RunRecord) -> dict[str, Any]:
    data = asdict(record)
    data["status"] = record.status.value
    data.pop("target_state", None)
    data["duration"] = record.duration
    return data


def runs_table(records: Sequence[RunRecord]) -> str:
    if not records:
        return "no runs"
    rows = [(r.run_id, r.target, r.status.value, format_time(r.started_at or r.created_at),
             format_duration(r.duration)) for r in records]
    head = ("RUN", "TARGET", "STATUS", "STARTED", "DURATION")
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
    return "\n".join(lines)
