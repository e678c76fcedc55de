"""Run history: runs, status transitions, metrics and the artifact index of one project, kept in
SQLite (WAL) under ``<project>/.aml/``. Importing this is cheap: sqlite3, json, dataclasses."""
from __future__ import annotations

from aml_magic.domain.history.records import Artifact, Metric, RunRecord, Transition, new_run_id, parse_status
from aml_magic.domain.history.status import RunStatus
from aml_magic.domain.history.store import RunStore

__all__ = ["Artifact", "Metric", "RunRecord", "RunStatus", "RunStore", "Transition",
           "new_run_id", "parse_status"]
