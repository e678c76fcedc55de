"""The shared targets in the team database (the ``targets`` table): each one's ``.compute`` and
``.runconfig`` text (references only), the key-store references it owns and its masked JSON.
Attach and detach write their audit entry in the same transaction; detach deletes the target's
secrets from the key store with it."""
from __future__ import annotations

from typing import Any

from aml_magic.errors import ApiError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from aml_magic.domain.teamdb.database import TeamDatabase
    from aml_magic.domain.teamdb.members import MemberStore


class SharedTargetStore:
    def __init__(self, db: TeamDatabase, members: MemberStore) -> None:
        self.db = db
        self.members = members

    def add(self, actor: str, name: str, type_name: str, stored: dict[str, Any]) -> None:
        """Keep target NAME (409 when the name is taken), audited."""
        from psycopg.errors import UniqueViolation
        from psycopg.types.json import Jsonb
        conn = self.db.connection()
        try:
            with conn.transaction():
                conn.execute("INSERT INTO targets (name, type, compute, created_by) VALUES "
                             "(%s, %s, %s, %s)", (name, type_name, Jsonb(stored), actor))
                self.members._audit(conn, actor, "target.attach", name,
                                    {"type": type_name, "shared": True})
        except UniqueViolation:
            raise ApiError(409, f"shared target '{name}' exists already; detach it "
                           "first") from None

    def get(self, name: str) -> dict[str, Any] | None:
        conn = self.db.connection()
        with conn.transaction():
            row = conn.execute("SELECT compute FROM targets WHERE name = %s", (name,)).fetchone()
        return dict(row[0]) if row else None

    def all(self) -> list[tuple[str, dict[str, Any]]]:
        """(name, stored) of every shared target, by name."""
        conn = self.db.connection()
        with conn.transaction():
            rows = conn.execute("SELECT name, compute FROM targets ORDER BY name").fetchall()
        return [(str(r[0]), dict(r[1])) for r in rows]

    def remove(self, actor: str, name: str) -> list[str]:
        """Delete target NAME and its key-store secrets, audited (404 for an unknown name);
        the references deleted."""
        conn = self.db.connection()
        with conn.transaction():
            row = conn.execute("DELETE FROM targets WHERE name = %s RETURNING compute",
                               (name,)).fetchone()
            if row is None:
                raise ApiError(404, f"no shared target '{name}' on this workspace; `aml "
                               "computetarget list` in a linked project names them")
            self.members._audit(conn, actor, "target.detach", name, {"shared": True})
            refs = [str(ref) for ref in dict(row[0]).get("secrets", [])]
            for ref in refs:
                conn.execute("DELETE FROM key_store WHERE ref = %s", (ref,))
        return refs
