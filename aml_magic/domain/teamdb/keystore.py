"""The team server's key store: the secrets of shared targets (passwords, SSH keys) in
PostgreSQL, each encrypted with AES-256-GCM under a key kept in a file OUTSIDE the database
(``aml server init|start --key-file F``). A copy of the database alone opens nothing.

Each ciphertext is bound to its reference (the associated data), so a row copied under another
reference does not decrypt. ``key_store_check`` holds a known text encrypted with the key, so a
server given the wrong key file refuses to start in one line instead of failing at a submit.
``cryptography`` (already paramiko's dependency) is imported when a key store is opened.
"""
from __future__ import annotations

import base64
import hashlib
import os
import re
import stat
from pathlib import Path

from aml_magic.errors import AmlError, SecretError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Mapping
    from aml_magic.domain.teamdb.database import TeamDatabase

_CHECK_TEXT = b"aml_magic key store"
_NONCE = 12
_REF_KIND = re.compile(r"aml-secret:([a-z][a-z0-9-]{0,31})/")


class KeyFileError(AmlError):
    """The key file is missing, unreadable, too open, or not the key of this key store."""


def key_id(key: bytes) -> str:
    """A name for a key that does not reveal it (its SHA-256, 12 hex digits)."""
    return hashlib.sha256(b"aml_magic key id\0" + key).hexdigest()[:12]


def create_key_file(path: Path) -> bool:
    """A new random 256-bit key in PATH (base64, mode 0600 from the first byte); False when
    PATH holds a key already (kept: it may be the key of an existing key store)."""
    path = path.expanduser()
    if path.exists() or path.is_symlink():
        read_key_file(path)          # refused in one line when it is not a usable key file
        return False
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    data = base64.urlsafe_b64encode(os.urandom(32)) + b"\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                     0o600)
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot create the key file ({exc.strerror})") from None
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    return True


def read_key_file(path: Path) -> bytes:
    """The key in PATH; each way it can be unusable is one line naming the file and the fix."""
    path = path.expanduser()
    fix = ("give the key file `aml server init` wrote (--key-file F; default "
           "~/.aml_magic/server.key of the user running the server)")
    try:
        info = os.stat(path)
        raw = path.read_bytes()
    except FileNotFoundError:
        raise KeyFileError(f"{path}: no key file (it decrypts the workspace's key store); "
                           f"{fix}; a workspace made before the key store gets one with `aml "
                           "server migrate --database URL --key-file F`") from None
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read the key file ({exc.strerror}); run the server "
                           "as the user who owns it, or " + fix) from None
    if not stat.S_ISREG(info.st_mode):
        raise KeyFileError(f"{path}: not a regular file; {fix}")
    if info.st_mode & 0o077:
        raise KeyFileError(f"{path}: the key file is readable by others (mode "
                           f"{stat.S_IMODE(info.st_mode):o}); `chmod 600 {path}` and start again")
    try:
        key = base64.urlsafe_b64decode(raw.strip())
    except ValueError:
        key = b""
    if len(key) != 32:
        raise KeyFileError(f"{path}: not an aml_magic key file (32 bytes, base64); {fix}")
    return key


class KeyStore:
    """Encrypted secrets in the team database, under the key of KEY_FILE."""

    def __init__(self, db: TeamDatabase, key_file: Path) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        self.db = db
        self.key_file = key_file.expanduser()
        key = read_key_file(self.key_file)
        self._aead = AESGCM(key)
        self.key_id = key_id(key)

    def check(self) -> None:
        """Refuse (one line) a key that is not this key store's; the first key given to a
        database without one (created before the key store) becomes its key."""
        conn = self.db.connection()
        with conn.transaction():
            row = conn.execute("SELECT key_id, ciphertext FROM key_store_check WHERE id = 1"
                               ).fetchone()
            if row is None:
                conn.execute("INSERT INTO key_store_check (id, key_id, ciphertext) VALUES "
                             "(1, %s, %s) ON CONFLICT (id) DO NOTHING",
                             (self.key_id, self._seal(_CHECK_TEXT, "check")))
                row = conn.execute("SELECT key_id, ciphertext FROM key_store_check WHERE id = 1"
                                   ).fetchone()
        assert row is not None                # inserted above, in this transaction
        if self._open(bytes(row[1]), "check") != _CHECK_TEXT:
            raise KeyFileError(
                f"{self.key_file}: this key (id {self.key_id}) does not open the workspace's key "
                f"store (made with key id {row[0]}); give the key file `aml server init` wrote")

    def _seal(self, data: bytes, ref: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, data, ref.encode("utf-8"))

    def _open(self, blob: bytes, ref: str) -> bytes | None:
        from cryptography.exceptions import InvalidTag
        try:
            return bytes(self._aead.decrypt(blob[:_NONCE], blob[_NONCE:], ref.encode("utf-8")))
        except (InvalidTag, ValueError):
            return None

    def put(self, ref: str, data: bytes) -> None:
        kind = _REF_KIND.match(ref)
        conn = self.db.connection()
        with conn.transaction():
            conn.execute("INSERT INTO key_store (ref, kind, ciphertext) VALUES (%s, %s, %s)",
                         (ref, kind.group(1) if kind else "secret", self._seal(data, ref)))

    def holds(self, ref: str) -> bool:
        conn = self.db.connection()
        with conn.transaction():
            return conn.execute("SELECT 1 FROM key_store WHERE ref = %s", (ref,)).fetchone() \
                is not None

    def get(self, ref: str) -> bytes | None:
        """The secret REF names; None when the key store has no such reference."""
        conn = self.db.connection()
        with conn.transaction():
            row = conn.execute("SELECT ciphertext FROM key_store WHERE ref = %s", (ref,)
                               ).fetchone()
        if row is None:
            return None
        data = self._open(bytes(row[0]), ref)
        if data is None:
            raise SecretError(f"key store: {ref} does not decrypt with the key in "
                              f"{self.key_file} (altered, or another key); an admin re-attaches "
                              "the target")
        return data

    def delete(self, ref: str) -> None:
        conn = self.db.connection()
        with conn.transaction():
            conn.execute("DELETE FROM key_store WHERE ref = %s", (ref,))

    def bind(self, ref: str, binding: Mapping[str, object]) -> None:
        from psycopg.types.json import Jsonb
        conn = self.db.connection()
        with conn.transaction():
            conn.execute("UPDATE key_store SET binding = %s WHERE ref = %s",
                         (Jsonb(dict(binding)), ref))

    def binding(self, ref: str) -> dict[str, Any] | None:
        conn = self.db.connection()
        with conn.transaction():
            row = conn.execute("SELECT binding FROM key_store WHERE ref = %s", (ref,)).fetchone()
        return dict(row[0]) if row and row[0] else None
