"""The local secret store (passwords, SSH private keys, values for runs) kept outside the
project, and what each secret was stored for (its binding).

Files under the store are created mode 0600 in folders of mode 0700; ``.compute`` files and
run records only ever hold a *reference*, ``aml-secret:<kind>/<slug>-<16 hex>``. Masking lives
in ``masking.py`` and is re-exported here.
"""
from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

from aml_magic.domain.masking import (
    MASK,
    MIN_MASK_LENGTH,
    SECRET_ENV_PREFIX,
    WORKBENCH_PREFIX,
    Masker,
    encoded_forms,
    is_reference,
    is_secret_name,
    looks_secret,
    mask_mapping,
    mask_tree,
    mask_url_passwords,
    mask_value,
    url_passwords,
)
from aml_magic.domain.digest import sha256_hex
from aml_magic.errors import SecretError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Mapping

KEYRING_SERVICE = "aml_magic"
#: Next to a secret's file, what it was stored for (``SecretStore.bind``); a reference's leaf
#: has no '.', so no reference names one.
BINDING_SUFFIX = ".binding"
#: Folder of target bindings (``bind_target``); kinds have no '_', so it is no kind's.
BINDINGS_DIR = "_bindings"

# compiled by `re` on first use (its cache): a project without secrets never needs them
_REF_RE = r"aml-secret:([a-z][a-z0-9-]{0,31})/([a-z0-9][a-z0-9-]{0,47})-([0-9a-f]{16})"
_KIND_RE = r"[a-z][a-z0-9-]{0,31}"


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40].strip("-")
    return slug or "secret"


def _target_from(context: str | None) -> str:
    if context and context.endswith(".compute"):
        return Path(context).stem
    return context or "<target>"


class SecretStore:
    """Secrets in files under ``root`` (default ``$AML_MAGIC_SECRETS_DIR`` or
    ``~/.aml_magic/domain/secrets``). With ``AML_MAGIC_USE_KEYRING=1`` and the ``keyring`` package
    installed, text secrets go to the OS keyring instead; private keys stay files because ssh
    needs a path."""

    def __init__(self, root: Path | None = None) -> None:
        if root is None:
            env = os.environ.get("AML_MAGIC_SECRETS_DIR")
            root = Path(env) if env else Path.home() / ".aml_magic" / "secrets"
        self.root = Path(root).expanduser()
        self._keyring = None
        if os.environ.get("AML_MAGIC_USE_KEYRING") == "1":
            try:
                import keyring  # optional

                self._keyring = keyring
            except ImportError:
                pass

    is_reference = staticmethod(is_reference)

    # ------------------------------------------------------------ paths

    def _parse(self, ref: str, context: str | None) -> tuple[str, str]:
        where = f"{context}: " if context else ""
        if not isinstance(ref, str):
            raise SecretError(f"{where}a secret reference must be text, not {type(ref).__name__}")
        if ref.startswith(WORKBENCH_PREFIX):
            raise self._workbench_error(context)
        m = re.fullmatch(_REF_RE, ref)
        if m is None:
            raise SecretError(f"{where}{ref[:60]!r} is not a valid secret reference "
                              "(expected aml-secret:<kind>/<name>-<16 hex>)")
        return m.group(1), f"{m.group(2)}-{m.group(3)}"

    def _path(self, kind: str, leaf: str) -> Path:
        return self.root / kind / leaf

    def _ensure_dir(self, kind: str) -> Path:
        """Create missing folders 0700 (ancestors we create too: they are ours); tighten the
        store and kind folders even if they existed."""
        missing_dirs = []
        d = self.root / kind
        while not d.exists() and d != d.parent:
            missing_dirs.append(d)
            d = d.parent
        for d in reversed(missing_dirs):
            d.mkdir(mode=0o700, exist_ok=True)
        for d in (self.root, self.root / kind):
            os.chmod(d, 0o700)
        return self.root / kind

    def _write_new(self, path: Path, data: bytes) -> None:
        """Create the file 0600 from the first byte (O_EXCL: never reuse or follow a link),
        then rename it into place so readers never see half a secret."""
        tmp = path.with_name(f".{path.name}.{os.urandom(4).hex()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                     0o600)
        try:
            os.fchmod(fd, 0o600)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        os.close(fd)
        os.replace(tmp, path)

    def _new_ref(self, kind: str, name: str) -> tuple[str, Path]:
        if not re.fullmatch(_KIND_RE, kind):
            raise SecretError(f"secret kind {kind!r} must be lower-case letters, digits and '-'")
        leaf = f"{_slug(name)}-{os.urandom(8).hex()}"
        return f"{SECRET_ENV_PREFIX}{kind}/{leaf}", self._ensure_dir(kind) / leaf

    # ------------------------------------------------------------ API

    def put(self, kind: str, name: str, value: str) -> str:
        """Store ``value``; return the reference to write into config files instead."""
        if not isinstance(value, str) or not value:
            raise SecretError(f"{kind} secret for {name!r} must be a non-empty string")
        ref, path = self._new_ref(kind, name)
        if self._keyring is not None:
            try:
                self._keyring.set_password(KEYRING_SERVICE, ref, value)
                return ref
            except Exception:  # keyring backends raise their own types; fall back to files
                pass
        try:
            self._write_new(path, value.encode("utf-8"))
        except OSError as exc:
            raise SecretError(f"{self.root}: cannot store the secret ({exc.strerror})") from exc
        return ref

    def put_private_key(self, name: str, pem: bytes | str) -> str:
        """Store an SSH private key as a 0600 file (see ``key_path``)."""
        data = pem.encode("utf-8") if isinstance(pem, str) else bytes(pem)
        if not data.strip():
            raise SecretError(f"private key for {name!r} is empty")
        ref, path = self._new_ref("sshkey", name)
        try:
            self._write_new(path, data)
        except OSError as exc:
            raise SecretError(f"{self.root}: cannot store the key ({exc.strerror})") from exc
        return ref

    @staticmethod
    def _workbench_error(context: str | None) -> SecretError:
        what = ("an Azure ML Workbench secret reference (AzureMlSecret=...) that aml_magic "
                "cannot read")
        if context and not context.endswith(".compute") and "EnvironmentVariables" in context:
            return SecretError(f"{context}: the value is {what}; replace it with the value itself "
                               "or with an aml-secret: reference")
        target = _target_from(context)
        return SecretError(
            f"{context or target + '.compute'}: the password is {what}; re-enter it with "
            f"`aml computetarget attach remote --name {target} --address ... --username ... "
            f"--password`")

    def _not_found(self, ref: str, context: str | None) -> SecretError:
        target = _target_from(context)
        where = f"{context}: " if context else ""
        return SecretError(
            f"{where}secret {ref} is not in the secret store {self.root} (deleted, or stored on "
            f"another machine); re-enter it, e.g. `aml computetarget attach remote --name "
            f"{target} --address ... --username ... --password`")

    def get(self, ref: str, *, context: str | None = None) -> str:
        """The secret's value. ``context`` (a ``.compute`` path or target name) names where the
        reference came from in the error message."""
        kind, leaf = self._parse(ref, context)
        if self._keyring is not None and kind != "sshkey":
            try:
                value = self._keyring.get_password(KEYRING_SERVICE, ref)
            except Exception:
                value = None
            if value is not None:
                return str(value)
        try:
            return self._path(kind, leaf).read_bytes().decode("utf-8")
        except FileNotFoundError:
            raise self._not_found(ref, context) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SecretError(f"{self._path(kind, leaf)}: cannot read the secret ({exc})") from exc

    def key_path(self, ref: str, *, context: str | None = None) -> Path:
        """The 0600 file holding a private key, for ssh/paramiko."""
        kind, leaf = self._parse(ref, context)
        path = self._path(kind, leaf)
        if not path.is_file():
            raise self._not_found(ref, context)
        return path

    def delete(self, ref: str) -> None:
        """Remove a secret and its binding; unknown and Workbench references are a no-op."""
        if is_reference(ref) and ref.startswith(WORKBENCH_PREFIX):
            return
        kind, leaf = self._parse(ref, None)
        if self._keyring is not None and kind != "sshkey":
            try:
                self._keyring.delete_password(KEYRING_SERVICE, ref)
            except Exception:
                pass
        self._path(kind, leaf).unlink(missing_ok=True)
        self._path(kind, leaf + BINDING_SUFFIX).unlink(missing_ok=True)

    def kind(self, ref: str, *, context: str | None = None) -> str:
        """What the secret was made for: ``password`` (an SSH login), ``sshkey``, ``env``
        (``aml secret set``: a value for runs)."""
        return self._parse(ref, context)[0]

    # ------------------------------------------------------------ bindings
    # What a secret (or a target) was stored for, written at attach and compared at every use:
    # a ``.compute`` is a project file that others may edit, the store is this user's own.

    def bind(self, ref: str, binding: Mapping[str, object]) -> None:
        """Record what ``ref`` was stored for (an SSH login: address, port, user, host key,
        engine); replaces an earlier binding (re-attach binds anew)."""
        kind, leaf = self._parse(ref, None)
        self._write_binding(self._ensure_dir(kind) / (leaf + BINDING_SUFFIX), binding)

    def binding(self, ref: str, *, context: str | None = None) -> dict[str, object] | None:
        """What ``ref`` was bound to; None for a secret stored by an older version."""
        kind, leaf = self._parse(ref, context)
        return self._read_binding(self._path(kind, leaf + BINDING_SUFFIX))

    def bind_target(self, project: Path, name: str, binding: Mapping[str, object]) -> None:
        """Record what target ``name`` of ``project`` was attached with (its engine)."""
        self._write_binding(self._ensure_dir(BINDINGS_DIR) / self._target_leaf(project, name),
                            {**binding, "project": str(project), "target": name})

    def target_binding(self, project: Path, name: str) -> dict[str, object] | None:
        return self._read_binding(self._path(BINDINGS_DIR, self._target_leaf(project, name)))

    def unbind_target(self, project: Path, name: str) -> None:
        self._path(BINDINGS_DIR, self._target_leaf(project, name)).unlink(missing_ok=True)

    @staticmethod
    def _target_leaf(project: Path, name: str) -> str:
        key = f"{os.path.realpath(project)}\0{name}".encode("utf-8", "surrogateescape")
        return sha256_hex(key)[:32] + ".json"

    def _write_binding(self, path: Path, binding: Mapping[str, object]) -> None:
        data = json.dumps({**binding, "boundAt": int(time.time())}, sort_keys=True)
        try:
            self._write_new(path, data.encode("utf-8"))
        except OSError as exc:
            raise SecretError(f"{path}: cannot record what the secret is for ({exc.strerror})") \
                from exc

    @staticmethod
    def _read_binding(path: Path) -> dict[str, object] | None:
        try:
            data = json.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise SecretError(f"{path}: unreadable binding ({exc}); re-attach the target to "
                              "bind its secret anew") from None
        if not isinstance(data, dict):
            raise SecretError(f"{path}: unreadable binding (not a mapping); re-attach the "
                              "target to bind its secret anew")
        data.pop("boundAt", None)
        return data


__all__ = [
    "MASK", "MIN_MASK_LENGTH", "SECRET_ENV_PREFIX", "WORKBENCH_PREFIX", "Masker", "SecretStore",
    "encoded_forms", "is_reference", "is_secret_name", "looks_secret", "mask_mapping",
    "mask_tree", "mask_url_passwords", "mask_value", "url_passwords",
]
