"""What a target gets from the workspace besides the compute and the run configuration."""
from __future__ import annotations


TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable
    from aml_magic.domain.config.dependencies import CondaDependencies, SparkDependencies


class Dependencies:
    """A run configuration's ``conda_dependencies.yml`` and ``spark_dependencies.yml``, loaded
    by the workspace on first use (a target never reads ``aml_config/`` itself)."""

    def __init__(self, conda: Callable[[], CondaDependencies | None] | None = None,
                 spark: Callable[[], SparkDependencies | None] | None = None) -> None:
        self._conda_loader, self._spark_loader = conda, spark
        self._conda: CondaDependencies | None = None
        self._spark: SparkDependencies | None = None
        self._loaded: set[str] = set()

    @property
    def conda(self) -> CondaDependencies | None:
        if "conda" not in self._loaded:
            self._conda = self._conda_loader() if self._conda_loader is not None else None
            self._loaded.add("conda")
        return self._conda

    @property
    def spark(self) -> SparkDependencies | None:
        if "spark" not in self._loaded:
            self._spark = self._spark_loader() if self._spark_loader is not None else None
            self._loaded.add("spark")
        return self._spark


__all__ = ["Dependencies"]
