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

