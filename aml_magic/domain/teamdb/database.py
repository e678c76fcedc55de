"""Per-thread connections to the team database, each checked against the schema version."""
from __future__ import annotations

import threading

from aml_magic.domain.teamdb.connection import connect
from aml_magic.domain.teamdb.migrations import check_schema

TYPE_CHECKING = False
if TYPE_CHECKING:
    import psycopg


class TeamDatabase:
    """One connection per thread to the team database (the server's handlers run their
    blocking calls in a thread pool), each checked against the schema version when opened."""

    def __init__(self, url: str, *, check: bool = True) -> None:
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
