"""A cache of parsed ``aml_config/`` files, so a command reading unchanged files does not import
and run the YAML parser (importing PyYAML alone costs ~8 ms of every ``aml`` command).

Entries are keyed by a hash of the file's text and validated by the full text: a file whose
text differs from the cached one (however fast it was edited) is parsed again; there is no
timestamp to race. The cache lives in the user's cache folder (``user_dirs.project_cache``:
``config-trees.json`` in the project's folder there; only for projects with their state folder
``.aml/``, or linked to a workspace, whose runs live on the server), never in the project: a project's own
``.aml/cache/`` is not read, so a tree shipped with a project cannot stand in for what its
files say. Only trees made of JSON types are cached (a YAML date, for one, is not), and only
successful parses: errors are always reported by the parser itself. A file holding a literal
secret (text under a secret-looking key that is not a secret-store reference) is never cached.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from aml_magic.domain.config._tree import Entry, Node
from aml_magic.domain.digest import sha256_hex
from aml_magic.domain.secrets import mask_value
from aml_magic.domain.user_dirs import project_cache

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CACHE_NAME = "config-trees.json"
#: Trees kept per project (a project has a few dozen files; edits leave old texts behind).
MAX_ENTRIES = 128
_SCALARS = (str, int, float, bool, type(None))
#: cache file -> its entries as loaded (one read per process and file)
_loaded: dict[Path, dict[str, Any]] = {}


def cache_file_for(path: Path, *, create: bool = False) -> Path | None:
    """The user's cache file for a file in ``<project>/aml_config/`` of a project that has
    its state folder (``.aml/``) or is linked to a workspace (``aml_config/workspace.yml``: a
    linked submit's snapshot checks the ``.compute`` files); None: not cached."""
    folder = path.parent
    if folder.name != "aml_config" or not ((folder.parent / ".aml").is_dir()
                                           or (folder / "workspace.yml").is_file()):
        return None
    cache = project_cache(folder.parent, create=create)
    return cache / CACHE_NAME if cache is not None else None


def content_key(text: str) -> str:
    """The key of ``text``'s entry: a hash and the length (the text itself verifies). sha256
    through ``digest`` (the interpreter's own, loaded already), not ``zlib.crc32``: loading
    zlib's extension alone cost ~0.4 ms of every command."""
    data = text.encode("utf-8", "surrogatepass")
    return f"{sha256_hex(data)[:16]}-{len(data)}"


def lookup(path: Path, text: str) -> Node | None:
    """The cached tree of ``path`` if it was parsed from exactly ``text``."""
    cache = cache_file_for(path)
    if cache is None:
        return None
    entry = _entries(cache).get(content_key(text))
    if not isinstance(entry, dict) or entry.get("text") != text:
        return None
    try:
        return _decode(entry["tree"])
    except (KeyError, TypeError, ValueError, IndexError):
        return None


def store(path: Path, text: str, tree: Node) -> None:
    """Remember ``tree`` as the parse of ``text``; silently skipped when it cannot be kept."""
    encoded = _encode(tree)
    if encoded is None:
        return
    cache = cache_file_for(path, create=True)
    if cache is None:
        return
    entries = dict(_entries(cache))
    key = content_key(text)
    entries.pop(key, None)
    entries[key] = {"text": text, "tree": encoded}       # the newest last
    for old in list(entries)[:max(0, len(entries) - MAX_ENTRIES)]:
        del entries[old]
    tmp = cache.with_name(f".{CACHE_NAME}.{os.getpid()}.tmp")
    try:
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
