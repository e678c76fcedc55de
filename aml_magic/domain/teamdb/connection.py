"""Opening the team database: psycopg loaded lazily, and each expected failure as one line."""
from __future__ import annotations

import re

from aml_magic.errors import AmlError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import psycopg


class SchemaMismatch(AmlError):
    """The database's schema is not the one this aml_magic speaks (too old, too new, absent)."""


def redact(url: str) -> str:
    """URL without its password (``postgresql://user:***@host/db``), for messages and logs."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)


def connect(url: str, *, autocommit: bool = False, timeout: float = 10.0) -> psycopg.Connection:
    """A connection to URL; 'unreachable' and 'psycopg missing' are one-line ``AmlError``s."""
    try:
        import psycopg
    except ImportError:
        raise AmlError("the team server needs psycopg 3: pip install 'aml_magic[server]'") from None
    try:
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=max(1, int(timeout)))
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AmlError(f"database unreachable at {redact(url)}: {first}") from None
    except psycopg.ProgrammingError as exc:
        raise AmlError(f"database URL {redact(url)} is not valid: {exc}") from None


class TeamDatabase:
    """One connection per thread to the team database (the server's handlers run their
    blocking calls in a thread pool), each checked against the schema version when opened."""

    def __init__(self, url: str, *, check: bool = True) -> None:
        import threading
        self.url = url
        self.check = check
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[psycopg.Connection] = []

    def connection(self) -> psycopg.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        conn = connect(self.url)
        if self.check:
            from aml_magic.domain.teamdb.migrations import check_schema
            try:
                check_schema(conn)
                conn.commit()
            except BaseException:
                conn.close()
                raise
        self._local.conn = conn
        with self._lock:
            self._all.append(conn)
        return conn

    def ping(self) -> None:
        """One round trip (``/health``); a lost connection is reopened once."""
        import psycopg
        try:
            conn = self.connection()
            conn.execute("SELECT 1")
            conn.rollback()
        except psycopg.OperationalError:
            self._local.conn = None
            conn = self.connection()
            conn.execute("SELECT 1")
            conn.rollback()

    def close(self) -> None:
        with self._lock:
            connections, self._all = self._all, []
        for conn in connections:
            try:
                conn.close()
            except Exception:   # closing a broken connection: nothing left to do
                pass
