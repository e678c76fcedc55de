"""Pages of the workspace's runs: newest first or sorted by a metric's latest value, with keyset
paging, so the 1000th page costs what the first does (an OFFSET walks every row before it).

A page ends with a cursor, the sort key of its last row (``[created_at, run_id]`` or ``[value,
run_id]``) as URL-safe base64 JSON; the next page asks for the rows strictly after it, which the
matching index finds directly. A metric-sorted listing holds the runs that logged that metric as
a number (``metric_latest``, kept by a trigger); ties are broken by run id.
"""
from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass

from aml_magic.domain.teamdb.runs import LIST_COLUMNS
from aml_magic.errors import AmlError

TYPE_CHECKING = False
if TYPE_CHECKING:   # the API contract's shapes: types only, as domain/registry.py's
    from typing import Any
    from aml_magic.domain.teamdb.database import TeamDatabase
    from aml_magic.service.contract import models as M

#: ``sort=metric:NAME`` sorts by NAME's latest value.
METRIC_PREFIX = "metric:"
_CREATED_COLUMNS = ", ".join(LIST_COLUMNS)
_METRIC_COLUMNS = ", ".join(f"r.{c}" for c in LIST_COLUMNS) + ", m.value"


class BadListing(AmlError):
    """A listing's sort, order or cursor is not understood (400)."""


@dataclass(frozen=True)
class Listing:
    """What one page asks for; ``sort`` is ``created_at`` or ``metric:NAME``."""
    status: str | None = None
    target: str | None = None
    limit: int = 50
    offset: int = 0
    sort: str = "created_at"
    order: str = "desc"
    after: str | None = None

    @property
    def metric(self) -> str | None:
        return self.sort[len(METRIC_PREFIX):] if self.sort.startswith(METRIC_PREFIX) else None

    def check(self) -> None:
        if self.sort != "created_at" and not (self.metric or "").strip():
            raise BadListing(f"'sort' must be 'created_at' or '{METRIC_PREFIX}NAME', "
                             f"not {self.sort!r}")
        if self.order not in ("asc", "desc"):
            raise BadListing(f"'order' must be 'asc' or 'desc', not {self.order!r}")
        if self.metric is None and self.order != "desc":
            raise BadListing("runs sorted by 'created_at' are listed newest first only "
                             "('order=desc')")
        if self.after is not None and self.offset:
            raise BadListing("give 'after' (the previous page's 'next') or 'offset', not both")


def encode_cursor(key: float, run_id: str) -> str:
    raw = json.dumps([key, run_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """The (sort key, run id) a cursor holds; a cursor that is not one of ours is a 400."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key, run_id = json.loads(raw)
        if isinstance(key, bool) or not isinstance(key, (int, float)) or \
                not isinstance(run_id, str) or not math.isfinite(key):
            raise ValueError
    except (ValueError, TypeError, binascii.Error):
        raise BadListing("'after' is not a cursor this server gave (use a page's 'next')") \
            from None
    return float(key), run_id


def _filters(alias: str, listing: Listing) -> tuple[list[str], list[Any]]:
    where, params = [], []
    for column, value in (("status", listing.status), ("target", listing.target)):
        if value is not None:
            where.append(f"{alias}{column} = %s")
            params.append(value)
    return where, params


def page_query(listing: Listing) -> tuple[str, list[Any]]:
    """The SQL (fixed text: only the clauses chosen vary) and its parameters for LISTING."""
    metric = listing.metric
    if metric is None:
        where, params = _filters("", listing)
        if listing.after is not None:
            where.append("(created_at, run_id) < (%s, %s)")
            params += decode_cursor(listing.after)
        sql = (f"SELECT {_CREATED_COLUMNS}, created_at FROM runs"
               + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY created_at DESC, run_id DESC")
    else:
        where, params = _filters("r.", listing)
        where.insert(0, "m.name = %s")
        params.insert(0, metric)
        direction, compare = ("DESC", "<") if listing.order == "desc" else ("ASC", ">")
        if listing.after is not None:
            where.append(f"(m.value, m.run_id) {compare} (%s, %s)")
            params += decode_cursor(listing.after)
        sql = (f"SELECT {_METRIC_COLUMNS} FROM metric_latest m JOIN runs r "
               "ON r.run_id = m.run_id WHERE " + " AND ".join(where)
               + f" ORDER BY m.value {direction}, m.run_id {direction}")
    return sql + " LIMIT %s OFFSET %s", [*params, listing.limit, listing.offset]


def list_page(db: TeamDatabase, listing: Listing) -> tuple[list[M.WorkspaceRunJson], str | None,
                                                            dict[str, float]]:
    """(runs, the next page's cursor or None at the end, run id -> sort metric's value)."""
    listing.check()
    sql, params = page_query(listing)
    conn = db.connection()
    with conn.transaction():
        rows = conn.execute(sql, params).fetchall()
    runs = [_run(row) for row in rows]
    keys = [float(row[len(LIST_COLUMNS)]) for row in rows]
    cursor = (encode_cursor(keys[-1], runs[-1]["run_id"])
              if rows and len(rows) == listing.limit else None)
    values = ({run["run_id"]: key for run, key in zip(runs, keys)}
              if listing.metric is not None else {})
    return runs, cursor, values


def _run(row: tuple[Any, ...]) -> M.WorkspaceRunJson:
    """A row's ``LIST_COLUMNS`` (in order) as the API's run; a column missing from them fails
    here, not in the client."""
    c = dict(zip(LIST_COLUMNS, row))
    return {"run_id": c["run_id"], "project": c["project"],
            "run_configuration": c["run_configuration"], "target": c["target"],
            "target_type": c["target_type"], "status": c["status"],
            "created_at": c["created_at"], "started_at": c["started_at"],
            "ended_at": c["ended_at"], "exit_code": c["exit_code"], "kind": c["kind"],
            "parent_run_id": c["parent_run_id"], "owner": c["owner"]}
