"""The team server's ``SecretStore``: what its projects attach stores in the key store
(encrypted in PostgreSQL), and every lookup of a reference the key store holds is answered from
it, so the unchanged target code (SSH login, masking, bindings) runs members' submits with
secrets no member can read. References the key store does not hold fall back to the files of
the server user's own store (``aml secret set`` on the server machine).

SSH needs a private key as a file: one from the key store is decrypted into a 0600 file in a
0700 folder of memory-backed ``/dev/shm`` where there is one, for this process only, and
removed by ``close()``."""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
from pathlib import Path

from aml_magic.domain.secrets import SECRET_ENV_PREFIX, SecretStore, _slug
from aml_magic.domain.teamdb.keystore import KeyStore
from aml_magic.errors import SecretError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Mapping

_KIND = re.compile(r"[a-z][a-z0-9-]{0,31}")


class KeyStoreSecrets(SecretStore):
    def __init__(self, keystore: KeyStore, root: Path | None = None) -> None:
        super().__init__(root)
        self._keyring = None          # the server's secrets live in the key store, not a keyring
        self.keystore = keystore
        self._key_dir: Path | None = None
        self._lock = threading.Lock()

    def _new_reference(self, kind: str, name: str) -> str:
        if not _KIND.fullmatch(kind):
            raise SecretError(f"secret kind {kind!r} must be lower-case letters, digits and '-'")
        return f"{SECRET_ENV_PREFIX}{kind}/{_slug(name)}-{os.urandom(8).hex()}"

    def put(self, kind: str, name: str, value: str) -> str:
        if not isinstance(value, str) or not value:
            raise SecretError(f"{kind} secret for {name!r} must be a non-empty string")
        ref = self._new_reference(kind, name)
        self.keystore.put(ref, value.encode("utf-8"))
        return ref

    def put_private_key(self, name: str, pem: bytes | str) -> str:
        data = pem.encode("utf-8") if isinstance(pem, str) else bytes(pem)
        if not data.strip():
            raise SecretError(f"private key for {name!r} is empty")
        ref = self._new_reference("sshkey", name)
        self.keystore.put(ref, data)
        return ref

    def get(self, ref: str, *, context: str | None = None) -> str:
        self._parse(ref, context)
        data = self.keystore.get(ref)
        if data is None:
            return super().get(ref, context=context)
        return data.decode("utf-8")

    def key_path(self, ref: str, *, context: str | None = None) -> Path:
        kind, leaf = self._parse(ref, context)
        data = self.keystore.get(ref)
        if data is None:
            return super().key_path(ref, context=context)
        with self._lock:
            if self._key_dir is None:
                shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
                self._key_dir = Path(tempfile.mkdtemp(prefix="aml-server-keys-", dir=shm))
            path = self._key_dir / leaf
            if not path.exists():
                self._write_new(path, data)
        return path

    def delete(self, ref: str) -> None:
        if self.keystore.holds(ref):
            self.keystore.delete(ref)
            self.drop_copy(ref)
            return
        super().delete(ref)

    def drop_copy(self, ref: str) -> None:
        """Remove the decrypted file of a private key deleted from the key store."""
        with self._lock:
            if self._key_dir is not None:
                (self._key_dir / self._parse(ref, None)[1]).unlink(missing_ok=True)

    def bind(self, ref: str, binding: Mapping[str, object]) -> None:
        if self.keystore.holds(ref):
            self.keystore.bind(ref, binding)
        else:
            super().bind(ref, binding)

    def binding(self, ref: str, *, context: str | None = None) -> dict[str, object] | None:
        self._parse(ref, context)
        if self.keystore.holds(ref):
            return self.keystore.binding(ref)
        return super().binding(ref, context=context)

    def close(self) -> None:
        """Remove the decrypted private keys ssh needed."""
        with self._lock:
            folder, self._key_dir = self._key_dir, None
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
