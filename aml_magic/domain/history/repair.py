"""``aml history repair``: rebuild ``history.db`` from the run folders.

Every run folder holds what its history needs: ``record.json`` (the record: spec, command,
configuration, target state; ``mirror.py``), ``status.json`` (the agent's end state),
``metrics.jsonl`` and ``outputs/``. The damaged database (and its WAL and shared-memory files)
is moved aside, never deleted, and a fresh one is filled from the folders. A run still live
keeps its target state with the metrics offset reset, so the next look reads its metrics again
from the target; a folder without a usable record is rebuilt as a Failed run saying so.

The run can write its own folder, so a record is evidence, never configuration: which target
it ran on is a name looked up in ``aml_config/`` when the run is read (``Workspace``), and a
record naming folders that are not the run's own fails that run, its folders forgotten."""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from aml_magic.domain import runfolder
from aml_magic.errors import AmlError, HistoryDamaged
from aml_magic.domain.history.mirror import read_record
from aml_magic.domain.history.records import RUN_ID_PATTERN, Metric, RunRecord
from aml_magic.domain.history.schema import preflight
from aml_magic.domain.history.status import RunStatus
from aml_magic.domain.history.store import RunStore
from aml_magic.domain.target_state import foreign_paths

_FINAL = {"Completed": RunStatus.COMPLETED, "Canceled": RunStatus.CANCELED,
          "Failed": RunStatus.FAILED}


@dataclass
class RepairReport:
    """What ``repair`` did: where the damaged file went and what was rebuilt."""
    kept_aside: list[Path] = field(default_factory=list)
    runs: int = 0
    without_record: list[str] = field(default_factory=list)
    metrics: int = 0
    outputs: int = 0


def move_aside(db_path: Path) -> list[Path]:
    """Rename ``history.db`` and its ``-wal``/``-shm`` companions to ``*.damaged-<time>``."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    moved: list[Path] = []
    for suffix in ("", "-wal", "-shm"):
        path = db_path.with_name(db_path.name + suffix)
        if path.exists() or path.is_symlink():
            aside = db_path.with_name(f"{db_path.name}.damaged-{stamp}{suffix}")
            path.rename(aside)
            moved.append(aside)
    return moved


def damage(project_root: Path) -> str | None:
    """Why the project's history needs repair, or None when it opens and passes SQLite's
    quick check (read-only: nothing is changed)."""
    import sqlite3

    root = Path(project_root)
    db_path = root / ".aml" / "history.db"
    try:
        preflight(db_path, root / ".aml" / "runs")
    except HistoryDamaged as exc:
        return str(exc)
    if not db_path.exists():
        return None
    try:
        conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
        try:
            verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return f"{db_path}: {exc}"
    return None if verdict == "ok" else f"{db_path}: {verdict}"


def repair(project_root: Path) -> RepairReport:
    """Move the current history aside and rebuild it from ``.aml/runs/*/``."""
    root = Path(project_root)
    report = RepairReport(kept_aside=move_aside(root / ".aml" / "history.db"))
    with RunStore(root, rebuilding=True) as store:
        if not store.runs_dir.is_dir():
            return report
        for folder in sorted(store.runs_dir.iterdir()):
            if folder.is_symlink() or not folder.is_dir() or not RUN_ID_PATTERN.match(folder.name):
                continue
            _rebuild_one(store, folder, root, report)
    return report


def _rebuild_one(store: RunStore, folder: Path, root: Path, report: RepairReport) -> None:
    project = root.name
    record = read_record(folder)
    if record is not None:      # the run could write it: folders only its own (target_state.py)
        problem = foreign_paths(record.target_state, folder.name, local_folder=None,
                                project_folders=(str(root / "outputs"), str(root / "logs")))
        if problem:
            why = "; ".join(filter(None, (record.target_state.malformed, problem)))
            record.target_state = replace(record.target_state, run_dir=None, outputs_dir=None,
                                          logs_dir=None, malformed=why)
    if record is None:
        report.without_record.append(folder.name)
        created = folder.stat().st_mtime
        record = RunRecord(run_id=folder.name, project=project, target="unknown",
                           target_type="unknown", status=RunStatus.FAILED, created_at=created,
                           ended_at=created, reason="rebuilt by `aml history repair`: the run "
                           "folder held no record of how the run was configured")
    try:
        state = runfolder.parse_status(runfolder.read_nofollow(
            folder / "status.json", 0, runfolder.STATUS_LIMIT + 1))
    except (AmlError, OSError):
        state = None
    final = state is not None and state.is_final and not state.malformed
    if state is not None and final:
        record.status = _FINAL[state.state]
        record.exit_code = state.exit_code
        record.reason = state.reason or record.reason
        record.started_at = record.started_at or state.started
        record.ended_at = state.ended or record.ended_at or time.time()
    elif record.target_state.malformed and not record.status.is_terminal():
        # the run wrote its record.json: where it lives on its target cannot be trusted
        record.status, record.ended_at = RunStatus.FAILED, time.time()
        record.reason = f"rebuilt by `aml history repair`: {record.target_state.malformed}"
    elif not record.status.is_terminal():
        # still live (or its submitter died): the next look reconciles it with the target
        record.target_state = replace(record.target_state, metrics_offset=None,
                                      metrics_skipping=None, metrics_rejected=None,
                                      metrics_refused=None)
    store.create_run(record, submitter=False)
    report.runs += 1
    if record.status.is_terminal():
        report.metrics += _ingest_local_metrics(store, folder, record.run_id)
        artifacts = runfolder.tree_manifest(folder, "outputs") if (folder / "outputs").is_dir() \
            else []
        store.set_artifacts(record.run_id, artifacts)
        report.outputs += len(artifacts)


def _ingest_local_metrics(store: RunStore, folder: Path, run_id: str) -> int:
    """The run folder's ``metrics.jsonl`` (local and docker runs write it there), in bounded
    chunks, validated as the reconciler does."""
    offset, skipping, count = 0, False, 0
    while True:
        try:
            raw = runfolder.read_nofollow(folder / "metrics.jsonl", offset,
                                          runfolder.METRICS_CHUNK)
        except (AmlError, OSError):
            return count
        chunk = runfolder.parse_metrics_chunk(raw, skipping=skipping)
        if chunk.consumed == 0:
            return count
        metrics: list[Metric] = chunk.metrics
        if metrics:
            store.add_metrics(run_id, metrics)
            count += len(metrics)
        offset, skipping = offset + chunk.consumed, chunk.skipping
        if len(raw) < runfolder.METRICS_CHUNK:
            return count
