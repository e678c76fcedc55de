"""The workspace's runs in PostgreSQL: pushed from personal histories (``aml history push``)
or mirrored from the server's own journals (``service/team/mirror.py``), idempotently; pages of
them are ``listing.py``'s.

A pushed run is one JSON object: ``record`` (the SQLite history's run columns, JSON columns
decoded), ``transitions`` ``[[status, time, reason]]``, ``metrics`` ``[[name, value, step,
time]]`` and ``artifacts`` ``[[path, size, sha256]]``. Pushing it again changes nothing: the run
row is updated in place, its transitions replaced, metrics and artifacts keyed by their natural
keys. A run another member pushed first is left alone and reported.
"""
from __future__ import annotations

from aml_magic.domain.history.records import RUN_ID_PATTERN
from aml_magic.domain.history.schema import JSON_COLUMNS, RUN_COLUMNS
from aml_magic.domain.history.status import RunStatus
from aml_magic.errors import AmlError

TYPE_CHECKING = False
if TYPE_CHECKING:   # the API contract's shapes: types only, as domain/registry.py's
    from typing import Any
    from aml_magic.domain.teamdb.database import TeamDatabase
    from aml_magic.service.contract import models as M

REQUIRED = ("run_id", "project", "target", "target_type", "status", "created_at")
_STATUSES = frozenset(s.value for s in RunStatus)
#: The columns a listing shows (the API's ``WorkspaceRunJson``).
LIST_COLUMNS = ("run_id", "project", "run_configuration", "target", "target_type", "status",
                "created_at", "started_at", "ended_at", "exit_code", "kind", "parent_run_id",
                "owner")
_COLUMNS = (*RUN_COLUMNS, "owner")
_UPSERT = (
    f"INSERT INTO runs ({', '.join(_COLUMNS)}) VALUES ({', '.join(['%s'] * len(_COLUMNS))}) "
    f"ON CONFLICT (run_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in RUN_COLUMNS if c != "run_id")
    + " WHERE runs.owner = excluded.owner RETURNING (xmax = 0)")


class PushRefused(AmlError):
    """A pushed run is malformed: the request is refused whole (400)."""


def _check(run: M.PushedRunJson) -> M.PushedRunJson:
    """RUN when its record is one this history keeps (a request is checked against its shape
    already; a mirrored run comes from a journal)."""
    if not isinstance(run, dict) or not isinstance(run.get("record"), dict):
        raise PushRefused("each pushed run needs a 'record' object")
    record = run["record"]
    unknown = set(record) - set(RUN_COLUMNS)
    missing = [c for c in REQUIRED if record.get(c) is None]
    if unknown or missing:
        raise PushRefused(f"run {record.get('run_id')!r}: unknown fields {sorted(unknown)} / "
                          f"missing fields {missing}")
    if not isinstance(record["run_id"], str) or not RUN_ID_PATTERN.match(record["run_id"]):
        raise PushRefused(f"run id {record['run_id']!r} is not a run id")
    if record["status"] not in _STATUSES:
        raise PushRefused(f"run {record['run_id']}: status {record['status']!r} is not one of "
                          f"{', '.join(sorted(_STATUSES))}")
    return run


def _value(jsonb: Any, column: str, value: Any) -> Any:
    if column not in JSON_COLUMNS:
        return value
    return jsonb(value if value is not None else ([] if column == "command" else {}))


class TeamRunStore:
    def __init__(self, db: TeamDatabase) -> None:
        self.db = db

    def push(self, owner: str, runs: list[M.PushedRunJson]) -> M.PushResultJson:
        """Store RUNS as OWNER's in one transaction; which were new, updated, or refused
        because another member owns that run id."""
        from psycopg import DataError, IntegrityError
        from psycopg.types.json import Jsonb
        records = [_check(run)["record"] for run in runs]
        result: M.PushResultJson = {"created": [], "updated": [], "not_owner": []}
        conn = self.db.connection()
        try:
            with conn.transaction(), conn.cursor() as cur:
                for run, record in zip(runs, records):
                    values = [_value(Jsonb, c, record.get(c)) for c in RUN_COLUMNS]
                    row = cur.execute(_UPSERT, (*values, owner)).fetchone()
                    run_id = record["run_id"]
                    if row is None:
                        result["not_owner"].append(run_id)
                        continue
                    result["created" if row[0] else "updated"].append(run_id)
                    cur.execute("DELETE FROM transitions WHERE run_id = %s", (run_id,))
                    cur.executemany(
                        "INSERT INTO transitions (run_id, status, time, reason) "
                        "VALUES (%s, %s, %s, %s)",
                        [(run_id, s, t, r) for s, t, r in run.get("transitions") or []])
                    cur.executemany(
                        "INSERT INTO metrics (run_id, name, value, step, time) "
                        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (run_id, name, step) DO UPDATE "
                        "SET value = excluded.value, time = excluded.time WHERE "
                        "(metrics.value, metrics.time) IS DISTINCT FROM "
                        "(excluded.value, excluded.time)",
                        [(run_id, n, Jsonb(v), s, t) for n, v, s, t in run.get("metrics") or []])
                    cur.executemany(
                        "INSERT INTO artifacts (run_id, path, size, sha256) "
                        "VALUES (%s, %s, %s, %s) ON CONFLICT (run_id, path) DO UPDATE "
                        "SET size = excluded.size, sha256 = excluded.sha256",
                        [(run_id, p, s, h) for p, s, h in run.get("artifacts") or []])
        except (DataError, IntegrityError, ValueError, TypeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise PushRefused(f"the pushed runs were refused: {first}") from None
        return result

    def forget(self, actor: str, project: str, run_id: str) -> bool:
        """Remove the server's run RUN_ID of PROJECT from the shared history (its transitions,
        metrics and artifact rows go with it) and its owner row, audited as ACTOR's in the
        same transaction; whether the shared history held it. A run id someone pushed from
        a personal history is not the server's run and stays."""
        from psycopg.types.json import Jsonb
        conn = self.db.connection()
        with conn.transaction():
            gone = conn.execute(
                "DELETE FROM runs WHERE run_id = %s AND owner = (SELECT owner FROM run_owners "
                "WHERE project = %s AND run_id = %s) RETURNING run_id",
                (run_id, project, run_id)).fetchone() is not None
            conn.execute("DELETE FROM run_owners WHERE project = %s AND run_id = %s",
                         (project, run_id))
            conn.execute("INSERT INTO audit_log (actor, action, subject, detail) "
                         "VALUES (%s, %s, %s, %s)",
                         (actor, "run.delete", run_id,
                          Jsonb({"project": project, "shared_history": gone})))
        return gone

    def metrics(self, run_id: str) -> list[M.MetricJson]:
        conn = self.db.connection()
        with conn.transaction():
            rows = conn.execute("SELECT name, value, step, time FROM metrics WHERE run_id = %s "
                                "ORDER BY name, step", (run_id,)).fetchall()
        return [{"name": r[0], "value": r[1], "step": r[2], "time": r[3]} for r in rows]
