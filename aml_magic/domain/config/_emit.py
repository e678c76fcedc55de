"""Writing ``aml_config/`` files: Workbench-style YAML (plain keys, double-quoted text values,
lists indented under their key, a comment above each known key), replaced atomically."""
from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_PLAIN_KEY = r"[A-Za-z_][A-Za-z0-9_.\-]*"  # compiled by `re` on first use
_RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}
_dumper_class: type | None = None


def _dumper() -> type:
    """The YAML dumper for aml_config/ files, built on first write (reading never needs it):
    indents lists under their key (``  - "$file"``), double-quotes text, never emits anchors."""
    global _dumper_class
    if _dumper_class is not None:
        return _dumper_class
    import yaml

    class _Dumper(yaml.SafeDumper):
        def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
            return super().increase_indent(flow, False)

        def ignore_aliases(self, data: Any) -> bool:
            return True

    def represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style='"')

    def represent_dict(dumper: yaml.SafeDumper, data: dict[Any, Any]) -> yaml.MappingNode:
        pairs = []
        for key, value in data.items():
            key_node = dumper.represent_data(key)
            if isinstance(key, str) and _plain_key(key):
                key_node.style = None  # type: ignore[attr-defined]
            pairs.append((key_node, dumper.represent_data(value)))
        return yaml.MappingNode("tag:yaml.org,2002:map", pairs,
                                flow_style=None if pairs else True)

    _Dumper.add_representer(str, represent_str)
    _Dumper.add_representer(dict, represent_dict)
    _dumper_class = _Dumper
    return _Dumper


def _plain_key(key: str) -> bool:
    return bool(re.fullmatch(_PLAIN_KEY, key)) and key.lower() not in _RESERVED


def dump_value(value: Any) -> str:
    """YAML for one value, as it follows ``key:`` (``' "x"'`` or ``'\\n  - "a"'``)."""
    import yaml
    text = yaml.dump(value, Dumper=_dumper(), default_flow_style=False, sort_keys=False,
                     allow_unicode=True, width=1 << 20, indent=2)
    text = text.rstrip("\n")
    text = text.removesuffix("\n...")      # a lone scalar document ends with an explicit marker
    is_block = (isinstance(value, (dict, list)) and len(value) > 0)
    if is_block:
        return "\n" + "\n".join("  " + line if line else line for line in text.split("\n"))
    return " " + text


def render(pairs: Iterable[tuple[str, Any]], *, header: str,
           comments: dict[str, str] | None = None) -> str:
    """A whole file: a header comment, then each key with its comment, separated by blank lines."""
    comments = comments or {}
    blocks = ["\n".join("# " + line if line else "#" for line in header.splitlines())]
    for key, value in pairs:
        key_text = key if _plain_key(key) else dump_value(key).strip()
        lines = ["# " + line for line in comments.get(key, "").splitlines()]
        lines.append(f"{key_text}:{dump_value(value)}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def order_keys(original: list[str], present: Iterable[str]) -> list[str]:
    """Keys as they stood in the file first, then the others in their canonical order."""
    present = list(present)
    first = [key for key in original if key in present]
    return first + [key for key in present if key not in first]


def atomic_write(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and ``os.replace``,
    so readers see the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = 0o644
    tmp = _write_temp(path, text)
    try:
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    return path


def atomic_create(path: Path, text: str) -> bool:
    """Create ``path`` with ``text`` unless it exists (then False); never clobbers, never leaves a
    partial file."""
    path = Path(path)
    if path.exists() or path.is_symlink():
        return False
    tmp = _write_temp(path, text)
    try:
        os.chmod(tmp, 0o644)
        try:
            os.link(tmp, path)           # fails if path appeared meanwhile: no clobbering
        except FileExistsError:
            return False
        except OSError:                  # filesystems without hard links
            with open(path, "x", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
        return True
    finally:
        _unlink_quietly(tmp)


def _unlink_quietly(path: str) -> None:
    """Remove a temporary file if it is there (``contextlib.suppress`` without importing
    contextlib, ~1 % of a CLI submit)."""
    try:
        os.unlink(path)
    except OSError:
        pass


def _write_temp(path: Path, text: str) -> str:
    import tempfile
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        _unlink_quietly(tmp)
        raise
    return tmp
