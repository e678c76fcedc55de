"""SQLite connections for the run history: one per thread, WAL, and retried write transactions.

Several processes share one history (kernels, the CLI, the server extension). SQLite's busy
timeout covers most contention; the retry loop covers what it does not (a busy error that
SQLite returns at once, e.g. a WAL recovery or a lock upgrade), with jittered backoff so the
processes do not retry in lockstep.
"""
from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

from aml_magic.errors import AmlError, DiskFull, HistoryDamaged

TYPE_CHECKING = False
if TYPE_CHECKING:   # typing is not imported at run time: ~5 % of a CLI start
    from typing import Callable, TypeVar
    T = TypeVar("T")

BUSY_TIMEOUT_MS = 10_000
_BUSY_MARKERS = ("database is locked", "database is busy", "database table is locked")


_DAMAGE_MARKERS = ("not a database", "malformed",
                   "file is encrypted", "disk i/o error", "database corrupt")


def damage_of(path: Path, error: BaseException) -> AmlError | None:
    """The ``AmlError`` for an SQLite error that means the file is damaged (or the disk full),
    else None (a bug of ours keeps its traceback)."""
    if not isinstance(error, sqlite3.DatabaseError) or is_busy(error):
        return None
    text = str(error).lower()
    if "database or disk is full" in text:
        return DiskFull(f"{path}: no space left on device; nothing was written to the run "
                        "history; free some space and try again")
    if type(error) is sqlite3.DatabaseError or any(m in text for m in _DAMAGE_MARKERS):
        return HistoryDamaged(str(path), str(error))
    return None


def is_busy(error: BaseException) -> bool:
    return isinstance(error, sqlite3.OperationalError) and any(
        marker in str(error).lower() for marker in _BUSY_MARKERS)


class Database:
    """Owns the per-thread connections to one SQLite file. A connection is never shared
    between threads or carried across ``fork()``: a child process opens its own."""

    def __init__(self, path: Path, *, retry_seconds: float = 60.0) -> None:
        self.path = path
        self.retry_seconds = retry_seconds
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[tuple[int, sqlite3.Connection]] = []

    def connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        conn = self.retry(self._open)
        self._local.conn, self._local.pid = conn, os.getpid()
        with self._lock:
            self._connections.append((os.getpid(), conn))
        return conn

    def _open(self) -> sqlite3.Connection:
        # isolation_level=None: no implicit transactions; writes say BEGIN IMMEDIATE themselves.
        conn = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_MS / 1000,
                               isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout = %d" % BUSY_TIMEOUT_MS)
            self._enable_wal(conn)
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            conn.close()
            raise
        return conn

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        # Switching a new database to WAL needs a moment of exclusive access; while another
        # process holds it SQLite may answer with the old mode instead of a busy error.
        deadline = time.monotonic() + 5.0
        while True:
            mode = str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
            if mode == "wal":
                return
            if time.monotonic() >= deadline:
                raise AmlError(f"{self.path}: SQLite refused WAL mode ({mode}); keep the project "
                               "on a local disk, not a network share")
            import random   # only while another process holds the database (rare)
            time.sleep(0.01 + random.random() * 0.02)

    def retry(self, action: Callable[[], T]) -> T:
        """Call ``action`` again while SQLite reports the database busy, up to retry_seconds."""
        deadline = time.monotonic() + self.retry_seconds
        delay = 0.01
        while True:
            try:
                return action()
            except sqlite3.DatabaseError as error:
                damage = damage_of(self.path, error)
                if damage is not None:
                    raise damage from error
                if not is_busy(error):
                    raise
                if time.monotonic() >= deadline:
                    raise AmlError(f"{self.path}: the run history stayed locked by another process "
                                   f"for over {self.retry_seconds:.0f} s; try again, or look for a "
                                   "stuck process holding it") from error
            import random   # only while another process holds the database (rare)
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.5)

    def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in one ``BEGIN IMMEDIATE`` transaction (the write lock taken up front, so
        it never fails half-way on a lock upgrade); commit, or roll back and re-raise."""
        def attempt() -> T:
            conn = self.connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(conn)
                conn.execute("COMMIT")
                return result
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        return self.retry(attempt)

    def read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in one read transaction, so its queries see one consistent state."""
        def attempt() -> T:
            conn = self.connection()
            conn.execute("BEGIN")
            try:
                return work(conn)
            finally:
                if conn.in_transaction:
                    conn.execute("COMMIT")
        return self.retry(attempt)

    def close(self) -> None:
        """Close every connection this object opened (call when no thread uses it any more)."""
        with self._lock:
            connections, self._connections = self._connections, []
        for pid, conn in connections:
            if pid != os.getpid():
                continue  # inherited across fork: the parent still owns it
            try:
                conn.close()
            except sqlite3.Error:
                pass
        self._local = threading.local()
