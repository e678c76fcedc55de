"""Plain-text presentation shared by every front end: one duration format, one time format, one
size and value format, and one table renderer. The CLI's tables, the magics' text fallbacks and
the widgets' text all come from here, so a run reads the same everywhere.

Imports only the standard library's ``time``: ``aml run list`` and ``%load_ext`` stay fast.
"""
from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from aml_magic.domain.history.records import RunRecord

#: What an empty value looks like in a table or a field list.
MISSING = "-"
#: The columns of a run listing; ``metrics`` is added where metrics were read.
RUN_COLUMNS: tuple[tuple[str, str], ...] = (
    ("run_id", "run id"), ("target", "target"), ("status", "status"), ("started", "started"),
    ("duration", "duration"))
METRICS_COLUMN = ("metrics", "metrics")
#: How many metrics a run listing shows per run.
KEY_METRICS = 3


def format_duration(seconds: float | None) -> str:
    """``14ms``, ``3.27s``, ``59.9s``, ``4m05s``, ``1h02m03s``, ``2d03h04m``; ``-`` when
    unknown."""
    if seconds is None:
        return MISSING
    seconds = max(0.0, float(seconds))
    if seconds < 0.9995:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 9.995:          # what rounds to 10.00 is shown as 10.0s
        return f"{seconds:.2f}s"
    if seconds < 59.95:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h{minutes:02d}m"


def format_time(timestamp: float | None) -> str:
    """Seconds since the epoch as local ``YYYY-MM-DD HH:MM:SS``; ``-`` when unknown."""
    if not timestamp:
        return MISSING
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


def format_size(size: int) -> str:
    """``512 B``, ``1.5 KB``, ``3.2 MB``, ``1.0 GB`` (binary multiples)."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover - the loop always returns


def format_value(value: Any) -> str:
    """A metric value in a cell: floats to 6 significant digits, lists by their length."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        return f"[{len(value)} values]"
    if value is None:
        return MISSING
    return str(value)


def format_exit_code(code: int | None) -> str:
    return MISSING if code is None else str(code)


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]], *,
          empty: str = "", upper: bool = True) -> str:
    """Rows as aligned text columns under upper-case headers, two spaces apart. A column is
    ``(key in each row, header)``; ``upper=False`` keeps headers as given (run ids, metric
    names).

    The last column is not padded (it may be long, e.g. metrics) and trailing blanks are
    dropped; a missing or None cell shows as ``-``. With no rows, ``empty`` is returned."""
    if not rows:
        return empty
    keys = [key for key, _ in columns]
    cells = [[h.upper() if upper else h for _, h in columns]]
    cells += [_row_cells(row, keys) for row in rows]
    widths = [max(map(len, column)) for column in zip(*cells)]
    lines = []
    for line in cells:
        padded = [cell.ljust(widths[i]) for i, cell in enumerate(line[:-1])] + line[-1:]
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines)


def tsv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """Rows as tab-separated values without a header, as the Azure CLI's ``-o tsv`` prints them
    (for ``cut``/``read`` in scripts): None is empty, tabs and newlines inside become spaces."""
    def cell(value: Any) -> str:
        text = "" if value is None or value == "" else _cell(value)
        return text.replace("\t", " ").replace("\n", " ")
    return "\n".join("\t".join(cell(row.get(key)) for key in columns) for row in rows)


def fields(pairs: Iterable[tuple[str, Any]]) -> str:
    """``label: value`` lines with the values aligned (``aml run show``, ``... show -n``)."""
    items = [(label, _cell(value)) for label, value in pairs]
    if not items:
        return ""
    width = max(len(label) for label, _ in items) + 1
    return "\n".join(f"{(label + ':').ljust(width)} {value}".rstrip() for label, value in items)


def _row_cells(row: Mapping[str, Any], keys: Sequence[str]) -> list[str]:
    """One row's cells; a non-empty string is its own cell (the common case, kept cheap: a
    listing may have 10,000 rows)."""
    out = []
    for key in keys:
        value = row.get(key)
        out.append(value if type(value) is str and value else _cell(value))
    return out


def _cell(value: Any) -> str:
    if value is None or value == "":
        return MISSING
    if isinstance(value, (list, tuple)):
        return " ".join(str(item) for item in value) or MISSING
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or MISSING
    return str(value)


# -- runs -------------------------------------------------------------------------------------
def key_metrics(series: Iterable[tuple[str, Any]], limit: int = KEY_METRICS) -> str:
    """``acc=0.91, loss=0.2``: the last value of the first ``limit`` metrics."""
    shown = []
    for index, (name, value) in enumerate(series):
        if index >= limit:
            break
        shown.append(f"{name}={format_value(value)}")
    return ", ".join(shown)


def run_row(record: RunRecord, *, metrics: str | None = None) -> dict[str, str]:
    """One run as the cells of a listing (a ``RunRecord`` or anything with its attributes)."""
    status = getattr(record, "status", "")
    started = getattr(record, "started_at", None) or getattr(record, "created_at", None)
    row = {"run_id": str(getattr(record, "run_id", "")),
           "target": str(getattr(record, "target", "") or ""),
           "status": str(getattr(status, "value", status)),
           "started": format_time(started),
           "duration": format_duration(_duration(record))}
    if metrics is not None:
        row["metrics"] = metrics
    return row


def runs_table(records: Sequence[RunRecord], *, metrics: Sequence[str] | None = None,
               empty: str = "no runs") -> str:
    """The run listing of ``aml run list`` and ``%aml_runs`` (with ``metrics``, one string per
    run, a METRICS column is added)."""
    columns: tuple[tuple[str, str], ...] = RUN_COLUMNS
    rows = [run_row(r, metrics=None if metrics is None else metrics[i])
            for i, r in enumerate(records)]
    if metrics is not None:
        columns += (METRICS_COLUMN,)
    return table(rows, columns, empty=empty)


#: The fixed columns of ``aml history list -o table``; one column per metric follows.
HISTORY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("run_id", "run id"), ("status", "status"), ("started", "started"),
    ("duration", "duration"), ("script", "script"), ("arguments", "arguments"))


def history_table(records: Sequence[RunRecord], metrics: Mapping[str, Mapping[str, Any]],
                  metric_names: Sequence[str], *, empty: str = "no runs") -> str:
    """``aml history list -o table``: one row per run (a ``RunRecord`` or anything with its
    attributes), its metrics as columns (``metrics``: run id -> name -> the last value of
    each series; ``-`` where a run has none), the script (a tracked notebook's name) and its
    arguments."""
    cells = []
    no_metrics: Mapping[str, Any] = {}
    keys = [f"m{index}" for index in range(len(metric_names))]
    for record in records:
        values = metrics.get(record.run_id, no_metrics)
        status = record.status
        cell: dict[str, Any] = {
            "run_id": record.run_id, "status": getattr(status, "value", status),
            "started": format_time(record.started_at or record.created_at),
            "duration": format_duration(_duration(record)),
            "script": record.script or MISSING,
            "arguments": (sweep_summary(record) if record.kind == "sweep" else
                          " ".join(map(str, record.command[1:])) or MISSING)}
        for key, name in zip(keys, metric_names):
            value = values.get(name)        # floats inline: 50,000 cells for 10,000 runs
            cell[key] = f"{value:.6g}" if type(value) is float else format_value(value)
        cells.append(cell)
    columns = tuple((key, header.upper()) for key, header in HISTORY_COLUMNS) + tuple(
        zip(keys, metric_names))                               # metric names as logged
    return table(cells, columns, empty=empty, upper=False)


def sweep_summary(record: RunRecord) -> str:
    """A sweep parent's ARGUMENTS cell: how many child runs, over which values (``sweep``
    alone for a run listed without its configuration, as a workspace server lists them)."""
    sweep = (getattr(record, "config_snapshot", None) or {}).get("sweep") or {}
    if not sweep:
        return "sweep"
    grid = " ".join(f"{name}={','.join(map(str, values))}"
                    for name, values in sweep.get("parameters", []))
    return f"sweep of {len(sweep.get('children', []))}: {grid}"


def any_table(data: Any) -> str:
    """A ``--query`` result as text (the shape is the user's): a list of objects as a table of
    their keys' union, one object as fields, a list of values one per line."""
    if isinstance(data, Mapping):
        return fields((str(k), _plain(v)) for k, v in data.items())
    if isinstance(data, list) and data and all(isinstance(item, Mapping) for item in data):
        keys: dict[str, None] = {}
        for item in data:
            keys.update((str(k), None) for k in item if not isinstance(item[k], (Mapping,)))
        rows = [{k: _plain(v) for k, v in item.items()} for item in data]
        return table(rows, [(k, k) for k in keys])
    if isinstance(data, list):
        return "\n".join(_cell(_plain(item)) for item in data)
    return _cell(_plain(data))


def any_tsv(data: Any) -> str:
    """A listing or ``--query`` result as ``-o tsv``: objects' values in key order, tab
    separated, one line per object (as the Azure CLI)."""
    items = data if isinstance(data, list) else [data]
    lines = []
    for item in items:
        if isinstance(item, Mapping):
            keys = [k for k in item if not isinstance(item[k], Mapping)]
            lines.append(tsv([{k: _plain(item[k]) for k in keys}], keys))
        elif isinstance(item, list):           # a row built by the query: [a, b] -> a\tb
            keys = [str(i) for i in range(len(item))]
            lines.append(tsv([{k: _plain(v) for k, v in zip(keys, item)}], keys))
        else:
            lines.append(tsv([{"v": _plain(item)}], ["v"]))
    return "\n".join(lines)


def compare_grid(rows: Sequence[Mapping[str, Any]], metric_names: Sequence[str],
                 environment_names: Sequence[str]) -> list[tuple[str, list[str]]]:
    """The cells of a comparison, one ``(field, [cell per run])`` line per field: arguments,
    duration, python, the environment variables that differ, metrics. ``aml history compare``
    prints it as text and ``%aml_compare`` as an HTML table: one grid, two forms."""
    labels: list[tuple[str, Any]] = [
        ("status", lambda r: r["status"]), ("target", lambda r: r["target"]),
        ("arguments", lambda r: " ".join(r.get("arguments") or ()) or MISSING),
        ("duration", lambda r: format_duration(r.get("duration"))),
        ("python", lambda r: r.get("python"))]
    labels += [(f"env {name}", lambda r, n=name: (r.get("environment") or {}).get(n))
               for name in environment_names]
    labels += [(name, lambda r, n=name: format_value((r.get("metrics") or {}).get(n)))
               for name in metric_names]
    return [(label, [_cell(get(row)) for row in rows]) for label, get in labels]


def compare_table(rows: Sequence[Mapping[str, Any]], metric_names: Sequence[str],
                  environment_names: Sequence[str], *, width: int | None = None) -> str:
    """``aml history compare``: runs side by side, one column per run: arguments, the
    environment variables that differ between them, metrics, duration, status. When that is
    wider than ``width`` (the terminal's), the fields every run shares are said once above and
    the rest pivots to one row per run; if even that is too wide, runs continue in blocks
    below, each repeating the field names (a cell too long for a block of its own is cut)."""
    if not rows:
        return "no runs"
    grid = compare_grid(rows, metric_names, environment_names)
    ids = [str(row["run_id"]) for row in rows]
    side = _side_by_side(grid, ids, [list(range(len(ids)))])
    if width is None or _widest(side) <= width:
        return side
    shared, varying = [], []
    for label, cells in grid:       # shared: one value, on every run that has one
        values = set(cells) - {MISSING}
        if len(values) == 1:
            lacking = cells.count(MISSING)
            shared.append((label, values.pop() + (f" ({MISSING} on {lacking} run"
                                                  f"{'s' if lacking > 1 else ''})"
                                                  if lacking else "")))
        else:
            varying.append((label, cells))
    room = width - max((len(label) for label, _ in shared), default=0) - 2
    head = fields([(label, _clip(value, max(8, room))) for label, value in shared])
    pivot = table([{"RUN": run_id, **{label: cells[i] for label, cells in varying}}
                   for i, run_id in enumerate(ids)],
                  [("RUN", "RUN")] + [(label, label) for label, _ in varying], upper=False)
    if _widest(pivot) > width:
        pivot = _wrapped(varying, ids, width)
    return f"{head}\n\n{pivot}" if head else pivot


def _side_by_side(grid: Sequence[tuple[str, list[str]]], ids: Sequence[str],
                  blocks: Sequence[Sequence[int]]) -> str:
    return "\n\n".join(
        table([{"field": label, **{f"r{i}": cells[i] for i in block}} for label, cells in grid],
              [("field", "RUN")] + [(f"r{i}", ids[i]) for i in block], upper=False)
        for block in blocks)


def _wrapped(grid: Sequence[tuple[str, list[str]]], ids: Sequence[str], width: int) -> str:
    """Side by side in blocks of as many runs as fit ``width``."""
    label_width = max(len("RUN"), *(len(label) for label, _ in grid))
    room = max(8, width - label_width - 2)
    grid = [(label, [_clip(cell, room) for cell in cells]) for label, cells in grid]
    ids = [_clip(run_id, room) for run_id in ids]
    blocks: list[list[int]] = [[]]
    used = label_width
    for i, run_id in enumerate(ids):
        column = max(len(run_id), *(len(cells[i]) for _, cells in grid))
        if blocks[-1] and used + 2 + column > width:
            blocks.append([])
            used = label_width
        blocks[-1].append(i)
        used += 2 + column
    return _side_by_side(grid, ids, blocks)


def _widest(text: str) -> int:
    return max((len(line) for line in text.splitlines()), default=0)


def _clip(text: str, room: int) -> str:
    return text if len(text) <= room else text[:room - 1] + "…"


def _plain(value: Any) -> Any:
    """A JSON value for a cell: floats as ``format_value`` shows them, the rest unchanged."""
    return format_value(value) if isinstance(value, float) else value


def run_text(detail: Mapping[str, Any]) -> str:
    """``aml run show`` as text: the fields of a run's JSON (a ``schema.RunDetailJson``)."""
    pairs: list[tuple[str, Any]] = [
        ("run", detail["run_id"]), ("status", detail["status"]),
        ("target", f"{detail['target']} ({detail['target_type']})"),
        ("command", detail["command"]), ("created", format_time(detail["created_at"])),
        ("duration", format_duration(detail["duration"])), ("exit code", detail["exit_code"])]
    if detail["reason"]:
        pairs.append(("reason", detail["reason"]))
    if detail.get("hint"):
        pairs.append(("hint", detail["hint"]))
    if detail.get("python"):
        pairs.append(("python", detail["python"]))
    if detail.get("isolation"):
        pairs.append(("isolation", detail["isolation"]))
    location = (detail.get("provenance") or {}).get("python_location")
    if location:
        pairs.append(("pythonLocation", location))
    if detail.get("spark_app_id"):
        pairs.append(("spark app", detail["spark_app_id"]))
    if detail.get("spark_ui"):
        pairs.append(("spark ui", detail["spark_ui"]))
    if detail.get("slurm_job"):
        pairs.append(("slurm job", detail["slurm_job"]))
    if detail["git_commit"]:
        pairs.append(("git", detail["git_commit"][:12] + (" (dirty)" if detail["git_dirty"]
                                                          else "")))
    pairs += [("metric", f"{m['name']} = {format_value(m['value'])}")
              for m in detail.get("metrics", [])]
    pairs += [("output", f"{o['path']} ({format_size(o['size'])})")
              for o in detail.get("outputs", [])]
    pairs.append(("log", detail.get("log")))
    if detail.get("environment_log"):
        pairs.append(("environment log", detail["environment_log"]))
    if detail.get("orphaned"):
        pairs.append(("orphaned", detail["orphaned"]))
    if detail.get("unreachable"):
        note = ("the target could not be reached, this is the last known state "
                f"({detail['unreachable']})")
        pairs.append(("note", note))
    return fields(pairs)


def _duration(record: RunRecord) -> float | None:
    """Seconds from start to end (or to now while live); None before the run starts."""
    start = getattr(record, "started_at", None)
    if start is None:
        return None
    end = getattr(record, "ended_at", None)
    return max(0.0, (time.time() if end is None else float(end)) - float(start))
