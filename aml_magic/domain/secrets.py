"""The local secret store (passwords, SSH private keys) kept outside the project, and masking
of secret values wherever text is shown or stored.

Files under the store are created mode 0600 in folders of mode 0700; ``.compute`` files and
run records only ever hold a *reference*, ``aml-secret:<kind>/<slug>-<16 hex>``.
"""
from __future__ import annotations

import json
import os
import re
import urllib.parse
from pathlib import Path
from typing import Any, Iterable, Mapping

from aml_magic.errors import SecretError

SECRET_ENV_PREFIX = "aml-secret:"
WORKBENCH_PREFIX = "AzureMlSecret="
MASK = "******"
MIN_MASK_LENGTH = 3
KEYRING_SERVICE = "aml_magic"

_REF_RE = re.compile(r"aml-secret:([a-z][a-z0-9-]{0,31})/([a-z0-9][a-z0-9-]{0,47})-([0-9a-f]{16})")
_KIND_RE = re.compile(r"[a-z][a-z0-9-]{0,31}")
_SECRET_NAME_RE = re.compile(
    r"PASSWORD|PASSWD|SECRET|TOKEN|KEY|CREDENTIAL"
    r"|_(?:PASS|PWD|PAT|AUTH)$", re.IGNORECASE)          # DB_PASS, MYSQL_PWD, GITHUB_PAT
# scheme://user:password@host -- the password part (up to the last '@' before the host)
_URL_PASSWORD_RE = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*:)([^\s/]*)(@)")


def is_reference(text: object) -> bool:
    """True for an aml_magic reference or a Workbench ``AzureMlSecret=...`` one."""
    return isinstance(text, str) and (text.startswith(SECRET_ENV_PREFIX)
                                      or text.startswith(WORKBENCH_PREFIX))


def looks_secret(name: str) -> bool:
    """Whether an environment variable's name says it holds a secret: ``*PASSWORD*``,
    ``*SECRET*``, ``*TOKEN*``, ``*KEY*``, ``*CREDENTIAL*``, and the suffixes ``_PASS``,
    ``_PWD``, ``_PAT``, ``_AUTH`` (never ``PWD`` itself: the shell's working folder)."""
    return bool(_SECRET_NAME_RE.search(name))


def url_passwords(text: str) -> list[str]:
    """The password parts of ``scheme://user:password@host`` URLs in ``text``."""
    return [m.group(2) for m in _URL_PASSWORD_RE.finditer(text) if m.group(2)]


def mask_url_passwords(text: str) -> str:
    """``text`` with the password part of every ``scheme://user:password@host`` URL masked
    (``postgres://app:******@db/x``): a ``DATABASE_URL`` is shown, its password never."""
    if "://" not in text:
        return text
    return _URL_PASSWORD_RE.sub(lambda m: m.group(1) + (MASK if m.group(2) else "") + m.group(3),
                                text)


#: Key names that contain KEY/SECRET/... but name a path or a fingerprint, not a secret.
_NOT_SECRET_SUFFIXES = ("fingerprint", "file", "path", "location", "directory", "dir")


def is_secret_name(name: str) -> bool:
    """Whether a key or variable name says its value is a secret (``DB_PASSWORD``,
    ``apiToken``); ``keyFile`` or ``hostKeyFingerprint`` are not."""
    lowered = name.lower()
    return looks_secret(name) and not lowered.endswith(_NOT_SECRET_SUFFIXES)


def mask_value(name: str, value: Any) -> Any:
    """``******`` for a text value under a secret-looking name, unless it is a reference into
    the secret store (a reference reveals nothing and says where the value lives)."""
    if isinstance(value, str) and value and is_secret_name(name) and not is_reference(value):
        return MASK
    if isinstance(value, str):
        return mask_url_passwords(value)          # DATABASE_URL=postgres://u:******@host
    return value


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40].strip("-")
    return slug or "secret"


def _target_from(context: str | None) -> str:
    if context and context.endswith(".compute"):
        return Path(context).stem
    return context or "<target>"


_PASSWORD_LINE = re.compile(rb"^\s*[\"']?password[\"']?\s*:\s*[\"']?([^\s\"'#][^\r\n]*)$",
                            re.MULTILINE | re.IGNORECASE)


def holds_plaintext_password(path: str) -> bool:
    """Whether a ``.compute`` file has a ``password:`` that is not a secret reference: such a
    file is never copied into a run (nor to a remote). Unreadable counts as holding one."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(1 << 20)
    except OSError:
        return True
    return any(not m.group(1).strip().startswith((b"aml-secret:", b"AzureMlSecret="))
               and m.group(1).strip() not in (b"null", b"~", b"")
               for m in _PASSWORD_LINE.finditer(data))


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
        m = _REF_RE.fullmatch(ref)
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
        if not _KIND_RE.fullmatch(kind):
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
        """Remove a secret; unknown and Workbench references are a no-op."""
        if is_reference(ref) and ref.startswith(WORKBENCH_PREFIX):
            return
        kind, leaf = self._parse(ref, None)
        if self._keyring is not None and kind != "sshkey":
            try:
                self._keyring.delete_password(KEYRING_SERVICE, ref)
            except Exception:
                pass
        self._path(kind, leaf).unlink(missing_ok=True)


class Masker:
    """Replaces every known secret value in text with ``******``.

    Values shorter than 3 characters are not masked: replacing every "a" or "1" in a log would
    make it unreadable while hiding nothing (such a secret is guessable anyway). Each value is
    also masked in its JSON-escaped and URL-quoted spellings, the forms logs often show."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        for v in values:
            self.add(v)

    def add(self, value: str | None) -> None:
        if not isinstance(value, str) or len(value) < MIN_MASK_LENGTH:
            return
        forms = {value, json.dumps(value)[1:-1], urllib.parse.quote(value, safe=""),
                 urllib.parse.quote_plus(value, safe="")}
        new = {f for f in forms if len(f) >= MIN_MASK_LENGTH} - self._values
        if new:
            self._values |= new
            self._pattern = None

    def __len__(self) -> int:
        return len(self._values)

    def values(self) -> list[str]:
        """Every spelling masked (each raw value and its escaped forms), longest first: what
        the run agent masks in ``log.txt`` on the target. Secret: never store or log it."""
        return sorted(self._values, key=lambda v: (-len(v), v))

    def update(self, other: Masker) -> None:
        """Also mask everything ``other`` masks."""
        if other._values - self._values:
            self._values |= other._values
            self._pattern = None

    def mask(self, text: str) -> str:
        if not text:
            return text
        text = mask_url_passwords(text)
        if not self._values:
            return text
        if self._pattern is None:
            ordered = sorted(self._values, key=len, reverse=True)  # longest first
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))
        return self._pattern.sub(MASK, text)

    def mask_mapping(self, env: Mapping[str, object] | None,
                     secret_names: Iterable[str] = ()) -> dict[str, object]:
        """A copy of ``env`` safe to store or show: values of secret-looking names (or names in
        ``secret_names``) become ``******``; known secret values inside other values are masked."""
        names = set(secret_names)
        out: dict[str, object] = {}
        for k, v in (env or {}).items():
            if (k in names or looks_secret(k)) and v not in (None, "") and not is_reference(v):
                out[k] = MASK
            else:
                out[k] = self.mask(v) if isinstance(v, str) else v
        return out


def mask_mapping(env: Mapping[str, object] | None, secret_names: Iterable[str] = (), *,
                 masker: Masker | None = None) -> dict[str, object]:
    """Module-level form of ``Masker.mask_mapping``."""
    return (masker or Masker()).mask_mapping(env, secret_names)
