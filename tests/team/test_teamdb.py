"""The team database on a real PostgreSQL: migrations recorded in ``schema_migrations``, a
schema too old / too new / absent refused in one line naming the command, members with hashed,
revocable tokens, and every member change in the audit log."""
from __future__ import annotations

import pytest

from aml_magic.domain.history.schema import RUN_COLUMNS
from aml_magic.domain.teamdb import (
    SCHEMA_VERSION, MemberStore, SchemaMismatch, TeamDatabase, check_schema, connect, hash_token,
    migrate,
)
from aml_magic.domain.teamdb.members import TokenRefused
from aml_magic.errors import AmlError

pytestmark = pytest.mark.postgres


def test_migrate_records_each_step_once(pg_database: str) -> None:
    with connect(pg_database) as conn:
        # When two migrations run one after the other
        assert migrate(conn) == list(range(1, SCHEMA_VERSION + 1))
        assert migrate(conn) == []
        rows = conn.execute("SELECT version, applied_at FROM schema_migrations").fetchall()
        # Then each step is one row, and the check passes
        assert [r[0] for r in rows] == list(range(1, SCHEMA_VERSION + 1))
        assert all(r[1] is not None for r in rows)
        assert check_schema(conn) == SCHEMA_VERSION


def test_runs_table_has_the_personal_history_columns(pg_database: str) -> None:
    with connect(pg_database) as conn:
        migrate(conn)
        columns = {r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'runs'")}
    # Then the two backends keep one set of run fields (plus the run's owner on the server)
    assert columns == set(RUN_COLUMNS) | {"owner"}


def test_schema_absent_too_old_too_new_are_one_line(pg_database: str) -> None:
    with connect(pg_database, autocommit=True) as conn:
        with pytest.raises(SchemaMismatch) as absent:
            check_schema(conn)
        assert "aml server init" in str(absent.value)
        migrate(conn)
        conn.execute("DELETE FROM schema_migrations WHERE version = %s", (SCHEMA_VERSION,))
        with pytest.raises(SchemaMismatch) as old:
            check_schema(conn)
        conn.execute("INSERT INTO schema_migrations (version, description) VALUES (%s, 'x'), "
                     "(%s, 'future')", (SCHEMA_VERSION, SCHEMA_VERSION + 1))
        with pytest.raises(SchemaMismatch) as new:
            check_schema(conn)
    # Then each is one line saying what to do
    assert "older" in str(old.value) and "aml server migrate" in str(old.value)
    assert "newer" in str(new.value) and "upgrade aml_magic" in str(new.value)
    for err in (absent, old, new):
        assert "\n" not in str(err.value)


def test_unreachable_database_is_one_line(postgres: object) -> None:
    with pytest.raises(AmlError) as err:
        connect("postgresql://nobody:s3cret@/none?host=/nonexistent-socket-dir", timeout=2)
    assert str(err.value).startswith("database unreachable at postgresql://nobody:***@")
    assert "s3cret" not in str(err.value) and "\n" not in str(err.value)


def test_tokens_are_hashed_revocable_and_audited(pg_database: str) -> None:
    with connect(pg_database) as conn:
        migrate(conn)
    db = TeamDatabase(pg_database)
    try:
        store = MemberStore(db)
        admin = store.add("setup", "ada", "admin")
        reader = store.add("ada", "rex", "reader")
        # Then a token authenticates as its member, and only its hash is stored
        assert store.authenticate(reader).name == "rex"
        assert store.authenticate(admin).may("contributor")
        assert not store.authenticate(reader).may("contributor")
        dump = db.connection().execute("SELECT token_hash FROM tokens").fetchall()
        db.connection().rollback()
        assert {r[0] for r in dump} == {hash_token(admin), hash_token(reader)}
        with pytest.raises(AmlError, match="last admin"):
            store.remove("ada", "ada")
        # When rex is removed, his token is refused as revoked, in one line
        store.remove("ada", "rex")
        with pytest.raises(TokenRefused, match="revoked") as refused:
            store.authenticate(reader)
        assert "\n" not in str(refused.value)
        with pytest.raises(TokenRefused, match="not known"):
            store.authenticate("aml_forged")
        actions = [(e["actor"], e["action"], e["subject"]) for e in store.audit_log()]
        assert actions == [("ada", "member.remove", "rex"), ("ada", "member.add", "rex"),
                           ("setup", "member.add", "ada")]
    finally:
        db.close()
