"""The team database's schema as ordered migrations, and the check every connection makes.

``MIGRATIONS[i]`` takes the database from version ``i`` to ``i + 1``; each applied step is a row
of ``schema_migrations`` (version, description, applied_at). Append new steps, never edit old
ones. The run tables hold the same columns as the personal SQLite history
(``domain/history/schema.py``: ``RUN_COLUMNS``; a test keeps the two in step) plus the member
who owns the run. SQL here is fixed text; values always travel as parameters.
"""
from __future__ import annotations

from aml_magic.domain.teamdb.connection import SchemaMismatch, redact

TYPE_CHECKING = False
if TYPE_CHECKING:
    import psycopg

MIGRATE_COMMAND = "aml server migrate --database URL"
#: Any fixed 64-bit number: the advisory lock two servers migrating one database take in turn.
_MIGRATION_LOCK = 0x616D6C5F7465616D

MIGRATIONS: list[tuple[str, tuple[str, ...]]] = [
    ("runs, transitions, metrics, artifacts, targets, members, tokens, audit log", (
        """CREATE TABLE runs (
            run_id            TEXT PRIMARY KEY,
            project           TEXT NOT NULL,
            run_configuration TEXT,
            target            TEXT NOT NULL,
            target_type       TEXT NOT NULL,
            status            TEXT NOT NULL,
            created_at        DOUBLE PRECISION NOT NULL,
            started_at        DOUBLE PRECISION,
            ended_at          DOUBLE PRECISION,
            exit_code         INTEGER,
            reason            TEXT,
            command           JSONB NOT NULL DEFAULT '[]',
            script            TEXT,
            config_snapshot   JSONB NOT NULL DEFAULT '{}',
            environment       JSONB NOT NULL DEFAULT '{}',
            snapshot_digest   TEXT,
            environment_hash  TEXT,
            git_commit        TEXT,
            git_dirty         BOOLEAN,
            target_state      JSONB NOT NULL DEFAULT '{}',
            kind              TEXT NOT NULL DEFAULT 'script',
            parent_run_id     TEXT,
            provenance        JSONB NOT NULL DEFAULT '{}',
            owner             TEXT NOT NULL
        )""",
        # Newest first, unfiltered or by status/target/parent: an index walked backwards.
        "CREATE INDEX runs_by_created ON runs (created_at DESC, run_id DESC)",
        "CREATE INDEX runs_by_status ON runs (status, created_at DESC, run_id DESC)",
        "CREATE INDEX runs_by_target ON runs (target, created_at DESC, run_id DESC)",
        "CREATE INDEX runs_by_parent ON runs (parent_run_id, created_at DESC, run_id DESC)",
        """CREATE TABLE transitions (
            id      BIGSERIAL PRIMARY KEY,
            run_id  TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            status  TEXT NOT NULL,
            time    DOUBLE PRECISION NOT NULL,
            reason  TEXT
        )""",
        "CREATE INDEX transitions_by_run ON transitions (run_id, id)",
        """CREATE TABLE metrics (
            id      BIGSERIAL PRIMARY KEY,
            run_id  TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            name    TEXT NOT NULL,
            value   JSONB NOT NULL,
            step    INTEGER NOT NULL,
            time    DOUBLE PRECISION NOT NULL,
            UNIQUE (run_id, name, step)
        )""",
        """CREATE TABLE artifacts (
            run_id  TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            path    TEXT NOT NULL,
            size    BIGINT NOT NULL,
            sha256  TEXT NOT NULL,
            PRIMARY KEY (run_id, path)
        )""",
        """CREATE TABLE targets (
            name        TEXT PRIMARY KEY,
            type        TEXT NOT NULL,
            compute     JSONB NOT NULL DEFAULT '{}',
            created_by  TEXT NOT NULL,
            created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
        )""",
        """CREATE TABLE members (
            name        TEXT PRIMARY KEY,
            role        TEXT NOT NULL CHECK (role IN ('admin', 'contributor', 'reader')),
            created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
            removed_at  TIMESTAMPTZ
        )""",
        # Only the SHA-256 of a token is kept; a token is 256 random bits, so no salt or
        # slow hash is needed to make the stored digest useless to a reader of the database.
        """CREATE TABLE tokens (
            token_hash  TEXT PRIMARY KEY,
            member      TEXT NOT NULL REFERENCES members (name),
            created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
            revoked_at  TIMESTAMPTZ
        )""",
        "CREATE INDEX tokens_by_member ON tokens (member)",
        """CREATE TABLE audit_log (
            id       BIGSERIAL PRIMARY KEY,
            time     TIMESTAMPTZ NOT NULL DEFAULT now(),
            actor    TEXT NOT NULL,
            action   TEXT NOT NULL,
            subject  TEXT NOT NULL,
            detail   JSONB NOT NULL DEFAULT '{}'
        )""",
    )),
    ("token expiry; the owners of the runs the server executes", (
        "ALTER TABLE tokens ADD COLUMN expires_at TIMESTAMPTZ",
        # A run submitted through the server lives in the SQLite history of a project under
        # <artifacts>/projects; who submitted it is kept here, keyed as the API names it.
        """CREATE TABLE run_owners (
            project     TEXT NOT NULL,
            run_id      TEXT NOT NULL,
            owner       TEXT NOT NULL,
            created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
            PRIMARY KEY (project, run_id)
        )""",
    )),
    ("the key store: shared targets' secrets, encrypted with a key kept outside the database", (
        # AES-256-GCM of each secret, the reference as associated data (a row copied under
        # another reference does not decrypt); the key is the server's --key-file.
        """CREATE TABLE key_store (
            ref         TEXT PRIMARY KEY,
            kind        TEXT NOT NULL,
            ciphertext  BYTEA NOT NULL,
            binding     JSONB,
            created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
        )""",
        # One row: a known text encrypted with the key, so a server given the wrong key file
        # refuses to start instead of failing at the first submit.
        """CREATE TABLE key_store_check (
            id          INTEGER PRIMARY KEY CHECK (id = 1),
            key_id      TEXT NOT NULL,
            ciphertext  BYTEA NOT NULL,
            created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
        )""",
    )),
    ("metric_latest (each metric's latest number, kept by a trigger); run_owners by run", (
        # One row per (run, metric name): the value at the highest step that is a number.
        # Sorting 100k runs by a metric walks metric_latest_by_value, never the metrics.
        """CREATE TABLE metric_latest (
            run_id  TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            name    TEXT NOT NULL,
            value   DOUBLE PRECISION NOT NULL,
            step    INTEGER NOT NULL,
            PRIMARY KEY (run_id, name)
        )""",
        "CREATE INDEX metric_latest_by_value ON metric_latest (name, value, run_id)",
        # A number too large for DOUBLE PRECISION is left out rather than failing the insert.
        """CREATE FUNCTION metric_latest_keep() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF jsonb_typeof(NEW.value) = 'number' THEN       -- nested: no cast of a non-number
                IF abs(NEW.value::numeric) < 1e308 THEN
                    INSERT INTO metric_latest (run_id, name, value, step)
                    VALUES (NEW.run_id, NEW.name, NEW.value::numeric::double precision, NEW.step)
                    ON CONFLICT (run_id, name) DO UPDATE
                        SET value = excluded.value, step = excluded.step
                        WHERE metric_latest.step <= excluded.step;
                END IF;
            END IF;
            RETURN NULL;
        END $$""",
        """CREATE TRIGGER metrics_keep_latest AFTER INSERT OR UPDATE ON metrics
           FOR EACH ROW EXECUTE FUNCTION metric_latest_keep()""",
        """INSERT INTO metric_latest (run_id, name, value, step)
           SELECT DISTINCT ON (run_id, name) run_id, name, value::numeric::double precision, step
           FROM metrics
           WHERE CASE WHEN jsonb_typeof(value) = 'number'
                      THEN abs(value::numeric) < 1e308 ELSE false END
           ORDER BY run_id, name, step DESC""",
        # The mirror's pass finds the server's going runs by status, then their owners by id.
        "CREATE INDEX run_owners_by_run ON run_owners (run_id)",
    )),
]
SCHEMA_VERSION = len(MIGRATIONS)

_CREATE_TABLE = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version     INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
)"""


def schema_version(conn: psycopg.Connection) -> int | None:
    """The highest applied migration; None when the database has no aml_magic schema."""
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return None
    row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
    return int(row[0]) if row else 0


def migrate(conn: psycopg.Connection, *, target: int = SCHEMA_VERSION) -> list[int]:
    """Apply the missing migrations up to TARGET in one transaction (under an advisory lock,
    so two servers starting at once migrate once); returns the versions applied."""
    applied: list[int] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        conn.execute(_CREATE_TABLE)
        current = schema_version(conn) or 0
        if current > SCHEMA_VERSION:
            raise _too_new(current, conn)
        for index in range(current, target):
            description, statements = MIGRATIONS[index]
            for statement in statements:
                conn.execute(statement)   # fixed text of this module, never user input
            conn.execute("INSERT INTO schema_migrations (version, description) VALUES (%s, %s)",
                         (index + 1, description))
            applied.append(index + 1)
    return applied


def _too_new(version: int, conn: psycopg.Connection) -> SchemaMismatch:
    return SchemaMismatch(
        f"{_where(conn)}: schema version {version} is newer than this aml_magic understands "
        f"({SCHEMA_VERSION}); upgrade aml_magic on this machine")


def _where(conn: psycopg.Connection) -> str:
    info = conn.info
    return redact(f"postgresql://{info.user}@{info.host or 'localhost'}/{info.dbname}")


def pending(version: int) -> str:
    """The migrations a database at VERSION lacks, by number and what each adds."""
    steps = range(version + 1, SCHEMA_VERSION + 1)
    return (f"migration{'s' if len(steps) > 1 else ''} "
            + "; ".join(f"{n}: {MIGRATIONS[n - 1][0]}" for n in steps))


def check_schema(conn: psycopg.Connection) -> int:
    """The schema version, or a one-line ``SchemaMismatch`` saying which command fixes it."""
    version = schema_version(conn)
    if version is None:
        raise SchemaMismatch(f"{_where(conn)}: no aml_magic schema in this database; run "
                             "`aml server init --database URL --artifacts DIR --admin NAME "
                             "--token-file F` first")
    if version > SCHEMA_VERSION:
        raise _too_new(version, conn)
    if version < SCHEMA_VERSION:
        raise SchemaMismatch(
            f"{_where(conn)}: schema version {version} is older than this aml_magic needs "
            f"({SCHEMA_VERSION}); run `{MIGRATE_COMMAND}` ({pending(version)})")
    return version
