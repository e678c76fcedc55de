"""Typed reading of one mapping's keys, with errors that point at the key's line and warnings for
keys nobody asked for (they are kept, never silently dropped)."""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from aml_magic.errors import ConfigError
from aml_magic.domain.config._parse import Entry, Node, parse_file

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_KINDS = {dict: "a mapping", list: "a list", bool: "true or false", int: "a number",
          float: "a number", str: "text", type(None): "empty"}


def describe(value: Any) -> str:
    """How a loaded value reads to a user: ``a list``, ``text "maybe"``."""
    if isinstance(value, str):
        return f'text "{value}"'
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return f"the number {value}"
    return _KINDS.get(type(value), type(value).__name__)


def load_mapping(path: Path, *, what: str) -> Node:
    """Parse ``path`` and insist that its top level is a mapping of keys to values."""
    root = load_optional_mapping(path, what=what)
    if root is None:
        raise ConfigError(f"the {what} file is empty; it needs 'key: value' lines",
                          path=str(path), line=1, column=1)
    return root


def load_optional_mapping(path: Path, *, what: str) -> Node | None:
    """``load_mapping`` for files that may be empty (None then)."""
    root = parse_file(path)
    if root is None or (root.value is None and not root.is_mapping):
        return None
    if not root.is_mapping:
        raise ConfigError(f"the {what} file must be a mapping of 'key: value' lines at the top "
                          f"level, not {describe(root.value)}", path=str(path),
                          line=root.line, column=root.column)
    return root


class Fields:
    """Access to the keys of one mapping node. Remembers which keys were read so the rest can be
    kept as ``extra`` and reported."""

    def __init__(self, node: Node, path: Path | str | None, *, nested: bool = False) -> None:
        self.node = node
        self.path = str(path) if path is not None else None
        self.nested = nested          # a missing key is reported at the mapping's own line
        self.used: set[str] = set()

    @property
    def order(self) -> list[str]:
        return list(self.node.entries or {})

    def entry(self, key: str) -> Entry | None:
        self.used.add(key)
        return (self.node.entries or {}).get(key)

    def has(self, key: str) -> bool:
        return key in (self.node.entries or {})

    def error(self, target: Entry | Node | None, message: str) -> ConfigError:
        """A ConfigError at the value when it sits on the key's line, else at the key."""
        if target is None:
            if self.nested:
                target = self.node
            else:
                return ConfigError(message, path=self.path)
        if isinstance(target, Entry):
            value = target.node
            if value.line == target.line and value.raw != "":
                return ConfigError(message, path=self.path, line=value.line, column=value.column)
            return ConfigError(message, path=self.path, line=target.line, column=target.column)
        return ConfigError(message, path=self.path, line=target.line, column=target.column)

    # scalar readers -------------------------------------------------------------------------
    def text(self, key: str, *, required: bool = False, hint: str = "") -> str | None:
        entry = self.entry(key)
        if entry is None or entry.node.value is None:
            if required:
                what = "is empty" if entry is not None else "is missing"
                raise self.error(entry, f"'{key}' {what}; {hint or f'add a {key!r} line'}")
            return None
        return scalar_text(self, entry.node, key)

    def flag(self, key: str, default: bool) -> bool:
        value = self.optional_flag(key)
        return default if value is None else value

    def optional_flag(self, key: str) -> bool | None:
        entry = self.entry(key)
        if entry is None or entry.node.value is None:
            return None
        return as_bool(self, entry.node, key)

    def integer(self, key: str, *, low: int, high: int) -> int | None:
        entry = self.entry(key)
        if entry is None or entry.node.value is None:
            return None
        value = entry.node.value
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.error(entry, f"'{key}' must be a whole number from {low} to {high}, "
                                    f"not {describe(entry.node.value)}")
        return value

    def choice(self, key: str, choices: Iterable[str], *, default: str | None = None,
               aliases: dict[str, str] | None = None) -> str | None:
        """A value from ``choices`` (case-insensitive), returned in its canonical spelling."""
        entry = self.entry(key)
        if entry is None or entry.node.value is None:
            return default
        text = scalar_text(self, entry.node, key)
        canonical = {c.lower(): c for c in choices}
        canonical.update({a.lower(): c for a, c in (aliases or {}).items()})
        if text.lower() not in canonical:
            allowed = ", ".join(choices)
            raise self.error(entry, f"'{key}: {text}' is not supported; use one of: {allowed}")
        return canonical[text.lower()]

    def string_list(self, key: str) -> list[str] | None:
        entry = self.entry(key)
        if entry is None or entry.node.value is None:
            return None
        if not entry.node.is_sequence:
            raise self.error(entry, f"'{key}' must be a list ('- item' lines), "
                                    f"not {describe(entry.node.value)}")
        return [scalar_text(self, item, key) for item in entry.node.items or []]

    def mapping(self, key: str) -> Node | None:
        entry = self.entry(key)
        if entry is None or entry.node.value is None:
            return None
        if not entry.node.is_mapping:
            raise self.error(entry, f"'{key}' must be a mapping ('name: value' lines), "
                                    f"not {describe(entry.node.value)}")
        return entry.node

    # the rest -------------------------------------------------------------------------------
    def rest(self, *, known: Iterable[str] = (), quiet: Iterable[str] = ()) -> tuple[dict, list[str]]:
        """Unread keys in file order, and a warning for each that is not in ``quiet``."""
        extra: dict[str, Any] = {}
        warnings: list[str] = []
        known = list(known)
        quiet = set(quiet)
        for key, entry in (self.node.entries or {}).items():
            if key in self.used:
                continue
            extra[key] = entry.node.value
            if key in quiet:
                continue
            lowered = {name.lower(): name for name in known}
            import difflib
            close = difflib.get_close_matches(key.lower(), list(lowered), n=1, cutoff=0.75)
            hint = f" (did you mean '{lowered[close[0]]}'?)" if close else ""
            warnings.append(f"{self.path}:{entry.line}: unknown key '{key}'{hint}; "
                            "it is kept in the file but aml_magic does not use it")
        return extra, warnings


def scalar_text(fields: Fields, node: Node, key: str) -> str:
    """A scalar as text. Numbers keep their source spelling (``1.10`` stays ``1.10``)."""
    value = node.value
    if node.is_mapping or node.is_sequence or value is None:
        raise fields.error(node, f"'{key}' must be text, not {describe(value)}")
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return node.raw if node.raw is not None else str(value)


def as_bool(fields: Fields, node: Node, key: str) -> bool:
    value = node.value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if not isinstance(value, bool):
        raise fields.error(node, f"'{key}' must be true or false, not {describe(value)}")
    return value
