"""The team history in PostgreSQL, behind ``aml server``: runs, status transitions, metrics,
targets, members (token hashes) and the audit log, in one versioned schema
(``migrations.py``). psycopg is imported only when a connection is opened: nothing on the
personal (SQLite) path loads it."""
from __future__ import annotations

from aml_magic.domain.teamdb.connection import SchemaMismatch, connect
from aml_magic.domain.teamdb.database import TeamDatabase
from aml_magic.domain.teamdb.members import Member, MemberStore, ROLES, hash_token, new_token
from aml_magic.domain.teamdb.migrations import SCHEMA_VERSION, check_schema, migrate, schema_version

__all__ = ["Member", "MemberStore", "ROLES", "SCHEMA_VERSION", "SchemaMismatch", "check_schema",
           "TeamDatabase", "connect", "hash_token", "migrate", "new_token", "schema_version"]
