"""The tree a parsed ``aml_config/`` file becomes: values with the position of every key and value
(``_parse`` builds it from YAML, ``_parse_cache`` from its JSON cache)."""
from __future__ import annotations

from aml_magic.domain.plain_data import plain_data

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


@plain_data
class Node:
    """A loaded value and where it starts (1-based). Mappings keep their entries in file order."""

    value: Any
    line: int
    column: int
    raw: str | None = None                      # source text of a scalar (keeps "1.10" intact)
    entries: dict[str, Entry] | None = None     # set for mappings
    items: list[Node] | None = None             # set for sequences

    @property
    def is_mapping(self) -> bool:
        return self.entries is not None

    @property
    def is_sequence(self) -> bool:
        return self.items is not None


@plain_data
class Entry:
    """One ``key: value`` of a mapping, with the key's own position."""

    key: str
    line: int
    column: int
    node: Node
