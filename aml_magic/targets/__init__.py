"""Compute targets, composed from a placement and a launch (see ``registry``); ``target_class``
maps a ``type`` to its class."""
from __future__ import annotations

import sys

from aml_magic.errors import ConfigError
from aml_magic.domain.registry import lookup, registered

TYPE_CHECKING = False
if TYPE_CHECKING:
    from aml_magic.targets.base import Target


def target_class(type_name: str, *, source: str | None = None) -> type[Target]:
    """The class for a compute ``type``; a ``ConfigError`` naming the file for unknown ones."""
    spec = lookup(type_name)
    if spec is None:
        known = ", ".join(supported_types())
        raise ConfigError(f"compute type '{type_name}' is unknown; supported types: {known}",
                          path=source)
    module_name, _, class_name = spec.target.partition(":")
    try:
        __import__(module_name)     # importlib.import_module, without importing importlib
        module = sys.modules[module_name]
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            raise ConfigError(f"compute type '{type_name}' is not available in this build",
                              path=source) from None
        raise
    cls: type[Target] = getattr(module, class_name)
    return cls


def supported_types() -> list[str]:
    return sorted(registered())
