"""The ``aml_config/`` folder: typed models of its files, a tolerant loader (every real
Workbench file loads), atomic Workbench-style writers, and the project around it."""
from __future__ import annotations

from pathlib import Path

from aml_magic.domain.config.compute import TYPES, ComputeTarget, load_compute, split_address, write_compute
from aml_magic.domain.config.mappings import (
    compute_from_mapping,
    compute_to_mapping,
    config_snapshot,
    runconfig_to_mapping,
)
from aml_magic.domain.config.project import (
    CONFIG_DIR,
    ProjectConfig,
    check_name,
    dependency_models,
    find_project,
    init_project,
)
from aml_magic.domain.config.runconfig import (
    DEFAULT_CONDA_FILE,
    DEFAULT_SPARK_FILE,
    FRAMEWORKS,
    RunConfiguration,
    load_runconfig,
    write_runconfig,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any
    from aml_magic.domain.config.dependencies import (
        CondaDependencies,
        MavenPackage,
        SparkDependencies,
        load_conda,
        load_spark,
        write_conda,
        write_spark,
    )

#: Loaded on first use: a local run never reads its conda or Spark file.
_DEPENDENCY_NAMES = ("CondaDependencies", "MavenPackage", "SparkDependencies", "load_conda",
                     "load_spark", "write_conda", "write_spark")

if TYPE_CHECKING:
    ConfigModel = ComputeTarget | RunConfiguration | CondaDependencies | SparkDependencies


def __getattr__(name: str) -> Any:
    if name in _DEPENDENCY_NAMES:
        return getattr(dependency_models(), name)
    if name == "ConfigModel":   # made on first use: its forward references cost ~1 % at import
        models = dependency_models()
        return (ComputeTarget | RunConfiguration | models.CondaDependencies
                | models.SparkDependencies)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_file(path: Path) -> ConfigModel:
    """Load any ``aml_config/`` file, choosing the model by its name: ``*.compute``,
    ``*.runconfig``/``*.amb``, ``*spark_dependencies*``, otherwise a conda file."""
    path = Path(path)
    if path.suffix == ".compute":
        return load_compute(path)
    if path.suffix in (".runconfig", ".amb"):
        return load_runconfig(path)
    dependencies = dependency_models()
    if "spark_dependencies" in path.name:
        return dependencies.load_spark(path)
    return dependencies.load_conda(path)


__all__ = [
    "CONFIG_DIR",
    "DEFAULT_CONDA_FILE",
    "DEFAULT_SPARK_FILE",
    "FRAMEWORKS",
    "TYPES",
    "ComputeTarget",
    "CondaDependencies",
    "ConfigModel",
    "MavenPackage",
    "ProjectConfig",
    "RunConfiguration",
    "SparkDependencies",
    "check_name",
    "compute_from_mapping",
    "compute_to_mapping",
    "config_snapshot",
    "find_project",
    "init_project",
    "load_compute",
    "load_conda",
    "load_file",
    "load_runconfig",
    "load_spark",
    "runconfig_to_mapping",
    "split_address",
    "write_compute",
    "write_conda",
    "write_runconfig",
    "write_spark",
]
