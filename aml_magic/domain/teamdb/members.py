"""Members, their roles and tokens, and the audit log of the team database.

A token is 256 random bits (``aml_`` + URL-safe base64); only its SHA-256 is stored, so the
database never holds a usable token. Removing a member revokes their tokens; the row stays, so
the audit log keeps naming them. Every change writes an audit entry in the same transaction.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from aml_magic.errors import AmlError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any
    from aml_magic.domain.teamdb.database import TeamDatabase

#: Highest first: a role may do everything the roles after it may.
ROLES = ("admin", "contributor", "reader")
TOKEN_PREFIX = "aml_"
_NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@"


class TokenRefused(AmlError):
    """No such token, or one revoked: the server answers 401 with this line."""


@dataclass(frozen=True)
class Member:
    name: str
    role: str

    def may(self, role: str) -> bool:
        """Whether this member's role is ROLE or above it."""
        return ROLES.index(self.role) <= ROLES.index(role)


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_name(name: str) -> str:
    if not name or len(name) > 64 or any(c not in _NAME_CHARS for c in name):
        raise AmlError(f"member name {name!r} must be 1-64 letters, digits, '.', '_', '-', '@'")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AmlError(f"role {role!r} is not one of {', '.join(ROLES)}")
    return role


class MemberStore:
    def __init__(self, db: TeamDatabase) -> None:
        self.db = db

    def add(self, actor: str, name: str, role: str) -> str:
        """Add NAME with ROLE (or give a removed member a new start); returns their token,
        which is shown once and never stored."""
        check_name(name)
        check_role(role)
        token = new_token()
        conn = self.db.connection()
        with conn.transaction():
            row = conn.execute("SELECT removed_at IS NULL FROM members WHERE name = %s",
                               (name,)).fetchone()
            if row and row[0]:
                raise AmlError(f"member {name!r} exists already; `aml workspace member remove "
                               f"{name}` first to give them a new token or role")
            conn.execute("""INSERT INTO members (name, role) VALUES (%s, %s)
                            ON CONFLICT (name) DO UPDATE SET role = excluded.role,
                                created_at = now(), removed_at = NULL""", (name, role))
            conn.execute("INSERT INTO tokens (token_hash, member) VALUES (%s, %s)",
                         (hash_token(token), name))
            self._audit(conn, actor, "member.add", name, {"role": role})
        return token

    def remove(self, actor: str, name: str) -> None:
        """Mark NAME removed and revoke every token of theirs."""
        conn = self.db.connection()
        with conn.transaction():
            row = conn.execute("SELECT role FROM members WHERE name = %s AND removed_at IS NULL",
                               (name,)).fetchone()
            if row is None:
                raise AmlError(f"no member {name!r} in this workspace")
            if row[0] == "admin" and self._admins(conn) <= 1:
                raise AmlError(f"{name!r} is the workspace's last admin; add another admin first")
            conn.execute("UPDATE members SET removed_at = now() WHERE name = %s", (name,))
            conn.execute("UPDATE tokens SET revoked_at = now() WHERE member = %s "
                         "AND revoked_at IS NULL", (name,))
            self._audit(conn, actor, "member.remove", name, {"role": row[0]})

    @staticmethod
    def _admins(conn: Any) -> int:
        row = conn.execute("SELECT count(*) FROM members WHERE role = 'admin' "
                           "AND removed_at IS NULL").fetchone()
        return int(row[0])

    def authenticate(self, token: str) -> Member:
        """The member TOKEN belongs to, or ``TokenRefused`` saying why (one line)."""
        conn = self.db.connection()
        with conn.transaction():
            row = conn.execute(
                """SELECT m.name, m.role, t.revoked_at IS NOT NULL FROM tokens t
                   JOIN members m ON m.name = t.member WHERE t.token_hash = %s""",
                (hash_token(token),)).fetchone()
        if row is None:
            raise TokenRefused("the token is not known to this workspace; ask an admin for "
                               "one and run `aml workspace login URL --token-stdin`")
        if row[2]:
            raise TokenRefused(f"the token of {row[0]!r} was revoked; ask an admin for a new "
                               "one and run `aml workspace login URL --token-stdin`")
        return Member(str(row[0]), str(row[1]))

    def members(self) -> list[dict[str, Any]]:
        conn = self.db.connection()
        with conn.transaction():
            rows = conn.execute("SELECT name, role, created_at FROM members "
                                "WHERE removed_at IS NULL ORDER BY name").fetchall()
        return [{"name": r[0], "role": r[1], "created_at": r[2].isoformat()} for r in rows]

    def audit(self, actor: str, action: str, subject: str,
              detail: dict[str, Any] | None = None) -> None:
        """Record ACTION (attach, detach, cancel, ...) by ACTOR on SUBJECT."""
        conn = self.db.connection()
        with conn.transaction():
            self._audit(conn, actor, action, subject, detail or {})

    @staticmethod
    def _audit(conn: Any, actor: str, action: str, subject: str, detail: dict[str, Any]) -> None:
        from psycopg.types.json import Jsonb
        conn.execute("INSERT INTO audit_log (actor, action, subject, detail) "
                     "VALUES (%s, %s, %s, %s)", (actor, action, subject, Jsonb(detail)))

    def audit_log(self, limit: int = 100) -> list[dict[str, Any]]:
        conn = self.db.connection()
        with conn.transaction():
            rows = conn.execute("SELECT id, time, actor, action, subject, detail FROM audit_log "
                                "ORDER BY id DESC LIMIT %s", (limit,)).fetchall()
        return [{"id": r[0], "time": r[1].isoformat(), "actor": r[2], "action": r[3],
                 "subject": r[4], "detail": r[5]} for r in rows]
