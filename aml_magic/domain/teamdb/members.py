"""Members, their roles and tokens, and the audit log of the team database.

A token is 256 random bits (``aml_`` + URL-safe base64); only its SHA-256 is stored, so the
database never holds a usable token. A token may carry an expiry time (``expires_at``, beside
its hash). Removing a member revokes their tokens; the row stays, so the audit log keeps naming
them. Every change writes an audit entry in the same transaction.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timezone

from aml_magic.errors import AmlError

TYPE_CHECKING = False
if TYPE_CHECKING:   # the API contract's shapes: types only, as domain/registry.py's
    from collections.abc import Mapping
    from typing import Any

    from aml_magic.service.contract import models as M
    from aml_magic.domain.teamdb.database import TeamDatabase

#: Highest first: a role may do everything the roles after it may.
ROLES = ("admin", "contributor", "reader")
TOKEN_PREFIX = "aml_"
_NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@"


#: What an expired or revoked token's member is told to ask for.
NEW_TOKEN_HINT = "aml workspace member add NAME --role ROLE --token-file F"


class TokenRefused(AmlError):
    """No such token, or one revoked or expired: the server answers 401 with this line."""


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

    def add(self, actor: str, name: str, role: str, *,
            expires_in_days: float | None = None) -> str:
        """Add NAME with ROLE (or give a removed member, or one whose tokens have all expired
        or been revoked, a new start); returns their token, which is shown once and never
        stored. With EXPIRES_IN_DAYS the token is refused after that many days."""
        check_name(name)
        check_role(role)
        if expires_in_days is not None and not 0 < expires_in_days <= 36500:
            raise AmlError(f"--expires-in must be 1..36500 days, not {expires_in_days:g}")
        token = new_token()
        conn = self.db.connection()
        with conn.transaction():
            row = conn.execute("SELECT removed_at IS NULL FROM members WHERE name = %s",
                               (name,)).fetchone()
            if row and row[0] and self._usable_tokens(conn, name):
                raise AmlError(f"member {name!r} exists already with a usable token; `aml "
                               f"workspace token revoke {name}` (or `member remove {name}`) "
                               "first to give them a new token or role")
            conn.execute("""INSERT INTO members (name, role) VALUES (%s, %s)
                            ON CONFLICT (name) DO UPDATE SET role = excluded.role,
                                created_at = now(), removed_at = NULL""", (name, role))
            conn.execute("INSERT INTO tokens (token_hash, member, expires_at) VALUES (%s, %s, "
                         "now() + %s::double precision * interval '1 day')",
                         (hash_token(token), name, expires_in_days))
            detail: dict[str, object] = {"role": role}
            if expires_in_days is not None:
                detail["expires_in_days"] = expires_in_days
            self._audit(conn, actor, "member.add", name, detail)
        return token

    @staticmethod
    def _usable_tokens(conn: Any, name: str) -> int:
        row = conn.execute("SELECT count(*) FROM tokens WHERE member = %s AND revoked_at IS "
                           "NULL AND (expires_at IS NULL OR expires_at > now())",
                           (name,)).fetchone()
        return int(row[0])

    def revoke_tokens(self, actor: str, name: str) -> int:
        """Revoke every token of NAME (who stays a member); returns how many were live."""
        conn = self.db.connection()
        with conn.transaction():
            self._role_unless_last_admin(conn, name, "revoking their token would lock the "
                                         "workspace; ")
            revoked = conn.execute("UPDATE tokens SET revoked_at = now() WHERE member = %s "
                                   "AND revoked_at IS NULL", (name,)).rowcount
            self._audit(conn, actor, "token.revoke", name, {"tokens": revoked})
        return int(revoked)

    def remove(self, actor: str, name: str) -> None:
        """Mark NAME removed and revoke every token of theirs."""
        conn = self.db.connection()
        with conn.transaction():
            role = self._role_unless_last_admin(conn, name, "")
            conn.execute("UPDATE members SET removed_at = now() WHERE name = %s", (name,))
            conn.execute("UPDATE tokens SET revoked_at = now() WHERE member = %s "
                         "AND revoked_at IS NULL", (name,))
            self._audit(conn, actor, "member.remove", name, {"role": role})

    def _role_unless_last_admin(self, conn: Any, name: str, why: str) -> str:
        """NAME's role; refused (one line) when NAME is no member, or is the last admin, whom
        removing or revoking would leave the workspace without (``why`` says how)."""
        row = conn.execute("SELECT role FROM members WHERE name = %s AND removed_at IS NULL",
                           (name,)).fetchone()
        if row is None:
            raise AmlError(f"no member {name!r} in this workspace")
        if row[0] == "admin" and self._admins(conn) <= 1:
            raise AmlError(f"{name!r} is the workspace's last admin; {why}add another admin first")
        return str(row[0])

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
                """SELECT m.name, m.role, t.revoked_at IS NOT NULL,
                          t.expires_at IS NOT NULL AND t.expires_at <= now(), t.expires_at
                   FROM tokens t JOIN members m ON m.name = t.member WHERE t.token_hash = %s""",
                (hash_token(token),)).fetchone()
        if row is None:
            raise TokenRefused("the token is not known to this workspace; ask an admin for "
                               "one and run `aml workspace login URL --token-stdin`")
        if row[2]:
            raise TokenRefused(f"the token of {row[0]!r} was revoked; ask an admin for a new "
                               "one and run `aml workspace login URL --token-stdin`")
        if row[3]:
            when = row[4].astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
            raise TokenRefused(f"token expired on {when}; ask an admin for a new one "
                               f"({NEW_TOKEN_HINT})")
        return Member(str(row[0]), str(row[1]))

    def set_run_owner(self, project: str, run_id: str, owner: str) -> None:
        """Record that OWNER submitted RUN_ID (of the server's PROJECT)."""
        conn = self.db.connection()
        with conn.transaction():
            conn.execute("INSERT INTO run_owners (project, run_id, owner) VALUES (%s, %s, %s) "
                         "ON CONFLICT DO NOTHING", (project, run_id, owner))

    def run_owner(self, project: str, run_id: str) -> str | None:
        """Who submitted RUN_ID through the server, else who pushed it; None when unknown."""
        conn = self.db.connection()
        with conn.transaction():
            row = conn.execute("SELECT owner FROM run_owners WHERE project = %s AND run_id = %s",
                               (project, run_id)).fetchone()
            if row is None:
                row = conn.execute("SELECT owner FROM runs WHERE run_id = %s",
                                   (run_id,)).fetchone()
        return None if row is None else str(row[0])

    def members(self) -> list[M.MemberJson]:
        conn = self.db.connection()
        with conn.transaction():
            rows = conn.execute("SELECT name, role, created_at FROM members "
                                "WHERE removed_at IS NULL ORDER BY name").fetchall()
        return [{"name": r[0], "role": r[1], "created_at": r[2].isoformat()} for r in rows]

    def audit(self, actor: str, action: str, subject: str,
              detail: Mapping[str, object] | None = None) -> None:
        """Record ACTION (attach, detach, cancel, ...) by ACTOR on SUBJECT."""
        conn = self.db.connection()
        with conn.transaction():
            self._audit(conn, actor, action, subject, detail or {})

    @staticmethod
    def _audit(conn: Any, actor: str, action: str, subject: str,
               detail: Mapping[str, object]) -> None:
        from psycopg.types.json import Jsonb
        conn.execute("INSERT INTO audit_log (actor, action, subject, detail) "
                     "VALUES (%s, %s, %s, %s)", (actor, action, subject, Jsonb(dict(detail))))

    def audit_log(self, limit: int = 100) -> list[M.AuditEntryJson]:
        conn = self.db.connection()
        with conn.transaction():
            rows = conn.execute("SELECT id, time, actor, action, subject, detail FROM audit_log "
                                "ORDER BY id DESC LIMIT %s", (limit,)).fetchall()
        return [{"id": r[0], "time": r[1].isoformat(), "actor": r[2], "action": r[3],
                 "subject": r[4], "detail": r[5]} for r in rows]
