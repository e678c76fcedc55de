"""Compute targets, one class per compute type; ``target_class`` maps a ``type`` to its class."""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:
    from .base import Target

# type -> "module:Class"; modules load only when a target of that type is used, so that
# paramiko and docker are imported only when needed.
_REGISTRY: dict[str, str] = {
    "local": "aml_magic.targets.local:LocalTarget",
    "remote": "aml_magic.targets.remote:RemoteTarget",
    "docker": "aml_magic.targets.docker:DockerTarget",
}


def target_class(type_name: str, *, source: str | None = None) -> type[Target]:
    """The class for a compute ``type``; a ``ConfigError`` naming the file for unknown ones."""
    spec = _REGISTRY.get(type_name)
    if spec is None:
        known = ", ".join(sorted(_REGISTRY))
        planned = type_name in ("remotedocker", "cluster")
        why = "is not supported yet" if planned else "is unknown"
        raise ConfigError(f"compute type '{type_name}' {why}; supported types: {known}",
                          path=source)
    module_name, _, class_name = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            raise ConfigError(f"compute type '{type_name}' is not available in this build",
                              path=source) from None
        raise
    return getattr(module, class_name)


def supported_types() -> list[str]:
    return sorted(_REGISTRY)
