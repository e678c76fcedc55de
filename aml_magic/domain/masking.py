"""Masking secret values wherever text is shown or stored: by name where names are all there
is (environment variables, keys no registry declares), by value (every spelling of each secret a
run was given) in logs.

Standard library only, cheap to import; ``secrets.py`` (the store) re-exports all of it.
"""
from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Mapping

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable

SECRET_ENV_PREFIX = "aml-secret:"
WORKBENCH_PREFIX = "AzureMlSecret="
MASK = "******"
MIN_MASK_LENGTH = 3

# Plain string tests, not a regular expression: compiling one costs ~1 ms of every CLI start.
_SECRET_WORDS = ("PASSWORD", "PASSWD", "PASSPHRASE", "PASSCODE", "SECRET", "TOKEN", "KEY",
                 "CREDENTIAL", "CREDS", "COOKIE")
_SECRET_SUFFIXES = ("_PASS", "_PWD", "_PAT", "_AUTH", "_PIN")   # DB_PASS, MYSQL_PWD, GITHUB_PAT
# camelCase spellings of the suffixes: sshPass, dbPwd (case-sensitive: COMPASS is no secret)
_CAMEL_SUFFIXES = ("Pass", "Pwd", "Pat", "Auth", "Pin")
_LOWER_OR_DIGIT = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
# scheme://user:password@host -- the password part (up to the last '@' before the host);
# compiled on first use (~1 M instructions; most texts hold no "://")
_URL_PASSWORD = r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*:)([^\s/]*)(@)"


def is_reference(text: object) -> bool:
    """True for an aml_magic reference or a Workbench ``AzureMlSecret=...`` one."""
    return isinstance(text, str) and (text.startswith(SECRET_ENV_PREFIX)
                                      or text.startswith(WORKBENCH_PREFIX))


def looks_secret(name: str) -> bool:
    """Whether a name says its value is a secret, where the name is all there is (environment
    variables, keys no registry knows): ``*PASSWORD*``, ``*PASSPHRASE*``, ``*PASSCODE*``,
    ``*SECRET*``, ``*TOKEN*``, ``*KEY*``, ``*CREDENTIAL*``, ``*CREDS*``, ``*COOKIE*``, and the
    suffixes ``_PASS``, ``_PWD``, ``_PAT``, ``_AUTH``, ``_PIN`` (or camelCase ``sshPass``);
    never ``PWD`` itself: the shell's working folder."""
    upper = name.casefold().upper()      # as re.IGNORECASE: the Kelvin sign is a K
    if any(word in upper for word in _SECRET_WORDS) or upper.endswith(_SECRET_SUFFIXES):
        return True
    return any(name.endswith(suffix) and len(name) > len(suffix)
               and name[-len(suffix) - 1] in _LOWER_OR_DIGIT for suffix in _CAMEL_SUFFIXES)


def url_passwords(text: str) -> list[str]:
    """The password parts of ``scheme://user:password@host`` URLs in ``text``."""
    if "://" not in text:
        return []
    return [m.group(2) for m in re.finditer(_URL_PASSWORD, text) if m.group(2)]


def mask_url_passwords(text: str) -> str:
    """``text`` with the password part of every ``scheme://user:password@host`` URL masked
    (``postgres://app:******@db/x``): a ``DATABASE_URL`` is shown, its password never."""
    if "://" not in text:
        return text
    return re.sub(_URL_PASSWORD, lambda m: m.group(1) + (MASK if m.group(2) else "") + m.group(3),
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


def mask_tree(data: Any, *, name: str = "") -> Any:
    """A deep copy of JSON-like ``data`` with the text value of every secret-looking key
    masked, at any depth (``mask_value``): for what only names describe, such as keys of a
    ``.compute`` that no registry option declares."""
    if isinstance(data, Mapping):
        return {str(k): mask_tree(v, name=str(k)) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [mask_tree(item, name=name) for item in data]
    return mask_value(name, data)


def url_forms(value: str) -> set[str]:
    """``value`` URL-encoded as encoders do: every reserved character quoted or ``/`` kept,
    spaces as ``%20`` or ``+``, escapes in upper or lower case."""
    forms = {urllib.parse.quote(value, safe=""), urllib.parse.quote(value),
             urllib.parse.quote_plus(value, safe=""), urllib.parse.quote_plus(value, safe="/")}
    forms |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), f) for f in forms}
    return forms


def encoded_forms(value: str) -> set[str]:
    """The spellings of ``value`` an accidental (or careless) print shows besides the raw one:
    hex (both cases), reversed, and base64 (standard and URL-safe alphabets) both on its own
    (with padding) and inside a longer encoded text, where it starts at any of three byte
    offsets: the characters that encode its bytes alone, as CI log maskers do. At most one
    character at each end of an embedded form (6 bits) stays visible."""
    import binascii  # base64's C call, loaded only for a secret (not base64: ~1 % of a CLI start)
    raw = value.encode("utf-8")
    forms = {raw.hex(), raw.hex().upper(), value[::-1]}
    whole = binascii.b2a_base64(raw, newline=False).decode("ascii")
    forms |= {whole, whole.rstrip("=")}
    for shift in range(3):
        text = binascii.b2a_base64(b"\0" * shift + raw, newline=False).decode("ascii")
        start, end = -(-8 * shift // 6), 8 * (shift + len(raw)) // 6
        if end - start >= 4:
            forms.add(text[start:end])
    forms |= {f.replace("+", "-").replace("/", "_") for f in forms}
    return {f for f in forms if len(f) >= MIN_MASK_LENGTH}


class Masker:
    """Replaces every known secret value in text with ``******``.

    Values shorter than 3 characters are not masked: replacing every "a" or "1" in a log would
    make it unreadable while hiding nothing (such a secret is guessable anyway). Each value is
    also masked in its JSON-escaped and URL-quoted spellings (``url_forms``), the forms logs
    often show, and in its base64, hex and reversed forms (``encoded_forms``)."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        for v in values:
            self.add(v)

    def add(self, value: str | None) -> None:
        if not isinstance(value, str) or len(value) < MIN_MASK_LENGTH:
            return
        forms = {value, json.dumps(value)[1:-1], *url_forms(value), *encoded_forms(value)}
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

