"""A cache of parsed ``aml_config/`` files, so a command reading unchanged files does not import
and run the YAML parser (importing PyYAML alone costs ~8 ms of every ``aml`` command).

Entries are keyed by the file's path and validated by its full text: a file whose text differs
from the cached one (however fast it was edited) is parsed again; there is no timestamp to race.
The cache lives in the project's state folder (``.aml/cache/config-trees.json``, next to the
snapshot hash cache) and is only used when that folder exists. Only trees made of JSON types are
cached (a YAML date, for one, is not), and only successful parses: errors are always reported by
the parser itself. A file holding a literal secret (text under a secret-looking key that is not
a secret-store reference) is never cached: secrets are not copied into ``.aml/``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from aml_magic.domain.config._tree import Entry, Node
from aml_magic.domain.secrets import mask_value

CACHE_NAME = "config-trees.json"
_SCALARS = (str, int, float, bool, type(None))
#: cache file -> its entries as loaded (one read per process and file)
_loaded: dict[Path, dict[str, Any]] = {}


def cache_file_for(path: Path) -> Path | None:
    """``<project>/.aml/cache/config-trees.json`` for a file in ``<project>/aml_config/``."""
    folder = path.parent
    if folder.name != "aml_config":
        return None
    state = folder.parent / ".aml"
    return state / "cache" / CACHE_NAME if state.is_dir() else None


def lookup(path: Path, text: str) -> Node | None:
    """The cached tree of ``path`` if it was parsed from exactly ``text``."""
    cache = cache_file_for(path)
    if cache is None:
        return None
    entry = _entries(cache).get(str(path))
    if not isinstance(entry, dict) or entry.get("text") != text:
        return None
    try:
        return _decode(entry["tree"])
    except (KeyError, TypeError, ValueError, IndexError):
        return None


def store(path: Path, text: str, tree: Node) -> None:
    """Remember ``tree`` as the parse of ``text``; silently skipped when it cannot be kept."""
    cache = cache_file_for(path)
    if cache is None:
        return
    encoded = _encode(tree)
    if encoded is None:
        return
    entries = dict(_entries(cache))
    entries[str(path)] = {"text": text, "tree": encoded}
    entries = {k: v for k, v in entries.items() if Path(k).exists()}   # forget removed files
    tmp = cache.with_name(f".{CACHE_NAME}.{os.getpid()}.tmp")
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(entries, allow_nan=True), encoding="utf-8")
        os.replace(tmp, cache)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass
        return
    _loaded[cache] = entries


def _entries(cache: Path) -> dict[str, Any]:
    if cache not in _loaded:
        try:
            data = json.loads(cache.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        _loaded[cache] = data if isinstance(data, dict) else {}
    return _loaded[cache]


def _encode(node: Node, key: str = "") -> list[Any] | None:
    """``["s", line, column, value, raw]``, ``["l", line, column, [items]]`` or
    ``["m", line, column, [[key, line, column, node], ...]]``; None if not JSON-able or if it
    holds a literal secret."""
    if node.entries is not None:
        entries = []
        for entry in node.entries.values():
            child = _encode(entry.node, entry.key)
            if child is None:
                return None
            entries.append([entry.key, entry.line, entry.column, child])
        return ["m", node.line, node.column, entries]
    if node.items is not None:
        items = []
        for item in node.items:
            child = _encode(item, key)
            if child is None:
                return None
            items.append(child)
        return ["l", node.line, node.column, items]
    if not isinstance(node.value, _SCALARS):
        return None
    if key and _holds_secret(key, node.value):
        return None
    return ["s", node.line, node.column, node.value, node.raw]


def _holds_secret(key: str, value: Any) -> bool:
    return mask_value(key, value) is not value


def _decode(data: list[Any]) -> Node:
    kind, line, column = data[0], int(data[1]), int(data[2])
    if kind == "m":
        entries = {key: Entry(str(key), int(kline), int(kcol), _decode(child))
                   for key, kline, kcol, child in data[3]}
        return Node({k: e.node.value for k, e in entries.items()}, line, column,
                    entries=entries)
    if kind == "l":
        items = [_decode(child) for child in data[3]]
        return Node([item.value for item in items], line, column, items=items)
    if kind == "s":
        return Node(data[3], line, column, raw=data[4])
    raise ValueError(f"unknown node kind {kind!r}")
