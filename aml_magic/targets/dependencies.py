"""What a target gets from the workspace besides the compute and the run configuration."""
from __future__ import annotations

from typing import Any, Callable


class Dependencies:
    """A run configuration's ``conda_dependencies.yml`` and ``spark_dependencies.yml``, loaded
    by the workspace on first use (a target never reads ``aml_config/`` itself)."""

    def __init__(self, conda: Callable[[], Any] | None = None,
                 spark: Callable[[], Any] | None = None) -> None:
        self._loaders = {"conda": conda, "spark": spark}
        self._values: dict[str, Any] = {}

    def _get(self, kind: str) -> Any:
        if kind not in self._values:
            loader = self._loaders[kind]
            self._values[kind] = loader() if loader is not None else None
        return self._values[kind]

    @property
    def conda(self) -> Any:
        return self._get("conda")

    @property
    def spark(self) -> Any:
        return self._get("spark")


__all__ = ["Dependencies"]
