"""Tolerant reading of ``aml_config/`` files (YAML or JSON) into a tree that remembers where every
key and value stood, so that later validation can point at ``file:line:column``.

Real Workbench files have CRLF endings, tabs after colons, JSON with raw newlines in strings and
similar hazards (FORMATS.md, "Parser hazards"); everything YAML can read is accepted here.
"""
from __future__ import annotations

from pathlib import Path

from aml_magic.errors import ConfigError
from aml_magic.domain.config import _parse_cache
from aml_magic.domain.config._tree import Entry, Node

TYPE_CHECKING = False
if TYPE_CHECKING:   # PyYAML is imported on the first parse that misses the cache
    from typing import Any
    import yaml

#: The loader class; None means libyaml's when installed (much faster), else the pure-Python
#: one, which gives the same results (tabs are handled below).
DEFAULT_LOADER: type | None = None


def read_text(path: Path) -> str:
    """The file as text; a missing, unreadable or non-UTF-8 file is a ConfigError."""
    where = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError("file not found", path=where) from None
    except OSError as err:
        raise ConfigError(f"cannot read the file: {err.strerror}", path=where) from None
    if data.startswith(b"\xef\xbb\xbf"):     # a byte order mark: "utf-8-sig" without its codec
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise ConfigError(f"byte 0x{data[err.start]:02x} is not UTF-8 text; save the file as UTF-8",
                          path=where, line=line, column=column) from None


def parse_file(path: Path, *, loader: type | None = None) -> Node | None:
    """Parse one file; ``None`` for a file holding only comments or blanks. A project's file
    whose text is unchanged since it was last parsed comes from the parse cache."""
    text = read_text(path)
    cached = loader is None and DEFAULT_LOADER is None
    if cached:
        tree = _parse_cache.lookup(Path(path), text)
        if tree is not None:
            return tree
    tree = parse_text(text, path=str(path), loader=loader)
    if cached and tree is not None:
        _parse_cache.store(Path(path), text, tree)
    return tree


def default_loader() -> type:
    if DEFAULT_LOADER is not None:
        return DEFAULT_LOADER
    import yaml
    loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return loader


def parse_text(text: str, *, path: str, loader: type | None = None) -> Node | None:
    """Parse YAML (JSON is YAML too). A tab used as separation whitespace, which the YAML spec
    allows but PyYAML's scanner rejects, is retried as a space: same columns, same meaning."""
    import yaml
    loader = loader or default_loader()
    try:
        return _compose(text, path, loader)
    except yaml.YAMLError as first:
        if "\t" not in text:
            raise _yaml_error(first, path, text) from None
        fixed = untab(text)
        if fixed == text:
            raise _yaml_error(first, path, text) from None
        try:
            return _compose(fixed, path, loader)
        except yaml.YAMLError as second:
            raise _yaml_error(second, path, text) from None


def untab(text: str) -> str:
    """Replace tabs that only separate tokens (after ``:``, ``-``, ``,``, ``[``, ``{`` or before a
    comment/line end) by one space, outside quoted strings. Tabs used as indentation and tabs
    inside plain scalars are left alone. One character for one, so positions do not move."""
    out = list(text)
    n = len(text)
    quote: str | None = None
    comment = False
    indent = True            # only blanks so far on this line
    sep_before = True        # the last token on the line was an indicator (or line start)
    i = 0
    while i < n:
        c = text[i]
        if c in "\r\n":
            comment, indent, sep_before = False, True, True
            i += 1
            continue
        if comment:
            i += 1
            continue
        if quote == '"':
            if c == "\\":
                i += 2
                continue
            if c == '"':
                quote, sep_before = None, False
            i += 1
            continue
        if quote == "'":
            if c == "'":
                if i + 1 < n and text[i + 1] == "'":
                    i += 2
                    continue
                quote, sep_before = None, False
            i += 1
            continue
        if c == " ":
            i += 1
            continue
        if c == "\t":
            if not indent and (sep_before or _blank_to_eol(text, i)):
                out[i] = " "
            i += 1
            continue
        before = text[i - 1] if i else "\n"
        at_token_start = before in " \t\r\n[{,:"
        if c == "#" and before in " \t\r\n":
            comment = True
        elif c in "\"'" and at_token_start and sep_before:
            quote = c
        elif c in ":,[{" or (c in "-?" and before in " \t\r\n"):
            sep_before = True
        else:
            sep_before = False
        indent = False
        i += 1
    return "".join(out)


def _blank_to_eol(text: str, i: int) -> bool:
    while i < len(text) and text[i] in " \t":
        i += 1
    return i >= len(text) or text[i] in "\r\n#"


def _compose(text: str, path: str, loader_cls: type) -> Node | None:
    loader = loader_cls(text)
    try:
        root = loader.get_single_node()
        return None if root is None else _convert(root, loader, path)
    finally:
        loader.dispose()


def _convert(node: yaml.Node, loader: Any, path: str) -> Node:
    import yaml
    line, column = node.start_mark.line + 1, node.start_mark.column + 1
    if isinstance(node, yaml.ScalarNode):
        return Node(loader.construct_object(node, deep=True), line, column, raw=node.value)
    if isinstance(node, yaml.SequenceNode):
        items = [_convert(child, loader, path) for child in node.value]
        return Node([item.value for item in items], line, column, items=items)
    entries: dict[str, Entry] = {}
    for key_node, value_node in node.value:
        kline, kcol = key_node.start_mark.line + 1, key_node.start_mark.column + 1
        if not isinstance(key_node, yaml.ScalarNode):
            raise ConfigError("a key must be a plain name, not a list or mapping; "
                              "write it as 'name: value'", path=path, line=kline, column=kcol)
        key_value = loader.construct_object(key_node)
        key = key_value if isinstance(key_value, str) else key_node.value
        if key in entries:
            raise ConfigError(f"key '{key}' appears twice (first on line {entries[key].line}); "
                              "keep only one of them", path=path, line=kline, column=kcol)
        entries[key] = Entry(key, kline, kcol, _convert(value_node, loader, path))
    value = {key: entry.node.value for key, entry in entries.items()}
    return Node(value, line, column, entries=entries)


_HINTS = (
    ("cannot start any token", ("a TAB or other character YAML does not allow here; indent "
                                "with spaces and quote values that start with @ or `")),
    ("mapping values are not allowed", ("quote a value that contains ': ' (key: \"a: b\") "
                                        "or fix the indentation")),
    ("did not find expected ',' or", "a comma is missing or a bracket is not closed"),
    ("could not find expected ':'", "write each setting as 'key: value' and close any open quote"),
    ("found unexpected end of stream", "a quote or bracket is not closed"),
    ("expected <block end>", "check the indentation: keys of one mapping must line up"),
    ("did not find expected key", "check the indentation: keys of one mapping must line up"),
    ("expected a single document", "the file holds several YAML documents ('---'); keep one"),
)


def _yaml_error(err: yaml.YAMLError, path: str, text: str) -> ConfigError:
    """Turn a PyYAML error into one sentence with 1-based line/column and a hint on the fix."""
    import yaml
    if not isinstance(err, yaml.MarkedYAMLError):
        return ConfigError(f"cannot parse the file: {err}; fix the YAML syntax", path=path)
    mark = err.problem_mark or err.context_mark
    problem = " ".join(part for part in (err.context, err.problem) if part) or "syntax error"
    hint = next((h for pattern, h in _HINTS if pattern in problem), "fix the YAML syntax there")
    line = column = None
    if mark is not None:
        line, column = mark.line + 1, mark.column + 1
        if 0 <= mark.index < len(text) and text[mark.index] == "\t":
            problem = "a TAB character where YAML needs spaces"
            hint = "replace the tab with spaces (YAML indentation must use spaces)"
    return ConfigError(f"cannot parse the file ({problem}); {hint}",
                       path=path, line=line, column=column)
