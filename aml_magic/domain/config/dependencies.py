"""``conda_dependencies.yml`` (the run's environment) and ``spark_dependencies.yml`` (Spark
settings and Maven packages for PySpark runs)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aml_magic.domain.config._emit import atomic_write, order_keys, render
from aml_magic.domain.config._fields import Fields, describe, load_mapping, load_optional_mapping, scalar_text
from aml_magic.domain.config._parse import Node


@dataclass
class CondaDependencies:
    """A conda environment file: conda specs plus at most one ``{pip: [...]}`` item."""

    name: str | None = None
    channels: list[str] = field(default_factory=list)
    conda: list[str] = field(default_factory=list)
    pip: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    path: Path | None = field(default=None, compare=False)
    warnings: list[str] = field(default_factory=list, compare=False)
    key_order: list[str] = field(default_factory=list, compare=False, repr=False)


@dataclass
class MavenPackage:
    group: str
    artifact: str
    version: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def coordinate(self) -> str:
        """``group:artifact:version`` as ``spark-submit --packages`` wants it."""
        return f"{self.group}:{self.artifact}:{self.version}"


@dataclass
class SparkDependencies:
    """Spark ``--conf`` settings, Maven repositories and packages."""

    configuration: dict[str, str] = field(default_factory=dict)
    repositories: list[str] = field(default_factory=list)
    packages: list[MavenPackage] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    path: Path | None = field(default=None, compare=False)
    warnings: list[str] = field(default_factory=list, compare=False)
    key_order: list[str] = field(default_factory=list, compare=False, repr=False)

    @property
    def app_name(self) -> str | None:
        return self.configuration.get("spark.app.name")


_CONDA_COMMENTS = {
    "name": "Name of the environment.",
    "channels": "Conda channels to search, in order.",
    "dependencies": "Conda packages (python=3.11, numpy) and one 'pip:' list of pip requirements.\n"
                    "Where conda is not available, aml_magic uses venv + pip with the pip list.",
}
_SPARK_COMMENTS = {
    "configuration": "Spark properties, passed as --conf name=value (spark.app.name names the app).",
    "repositories": "Maven repositories searched for the packages below.",
    "packages": "Maven packages for spark-submit --packages.",
}


def load_conda(path: Path) -> CondaDependencies:
    """Load a conda environment file; ConfigError with file:line if it is not one."""
    path = Path(path)
    root = load_mapping(path, what="conda dependencies")
    f = Fields(root, path)
    model = CondaDependencies(name=f.text("name"), channels=f.string_list("channels") or [],
                              path=path)
    warnings: list[str] = []
    entry = f.entry("dependencies")
    if entry is not None and entry.node.value is not None:
        if not entry.node.is_sequence:
            raise f.error(entry, "'dependencies' must be a list of packages ('- numpy' lines), "
                                 f"not {describe(entry.node.value)}")
        pip_items = 0
        for item in entry.node.items or []:
            if item.is_mapping:
                model.pip.extend(_pip_list(f, item))
                pip_items += 1
            else:
                model.conda.append(scalar_text(f, item, "dependencies"))
        if pip_items > 1:
            warnings.append(f"{path}: {pip_items} 'pip:' items in dependencies; they are merged "
                            "into one")
    model.extra, unknown = f.rest(known=list(_CONDA_COMMENTS))
    model.warnings, model.key_order = warnings + unknown, f.order
    return model


def _pip_list(f: Fields, item: Node) -> list[str]:
    entries = item.entries or {}
    if list(entries) != ["pip"]:
        raise f.error(item, "a mapping in 'dependencies' must be the pip list ('- pip:' followed "
                            f"by '- package' lines), not keys {', '.join(entries)}")
    node = entries["pip"].node
    if node.value is None:
        return []
    if not node.is_sequence:
        raise f.error(entries["pip"], f"'pip' must be a list of requirements, not "
                                      f"{describe(node.value)}")
    return [scalar_text(f, child, "pip") for child in node.items or []]


def load_spark(path: Path) -> SparkDependencies:
    """Load ``spark_dependencies.yml``; each of its three keys may be empty or null."""
    path = Path(path)
    root = load_optional_mapping(path, what="spark dependencies")
    model = SparkDependencies(path=path)
    if root is None:
        return model
    f = Fields(root, path)
    package_warnings: list[str] = []
    conf = f.mapping("configuration")
    for key, entry in ((conf.entries or {}) if conf else {}).items():
        if entry.node.value is None:
            raise f.error(entry, f"Spark property '{key}' has no value; give one or remove it")
        model.configuration[key] = scalar_text(f, entry.node, key)
    model.repositories = f.string_list("repositories") or []
    packages = f.entry("packages")
    if packages is not None and packages.node.value is not None:
        if not packages.node.is_sequence:
            raise f.error(packages, "'packages' must be a list of '- group: ...' items with "
                                 f"artifact and version, not {describe(packages.node.value)}")
        model.packages = [_package(f, item, package_warnings) for item in packages.node.items or []]
    model.extra, unknown = f.rest(known=list(_SPARK_COMMENTS))
    model.warnings = package_warnings + unknown
    model.key_order = f.order
    return model


def _package(f: Fields, item: Node, warnings: list[str]) -> MavenPackage:
    if not item.is_mapping:
        raise f.error(item, "each package must have 'group', 'artifact' and 'version' keys, "
                            f"not {describe(item.value)}")
    sub = Fields(item, f.path, nested=True)
    group, artifact, version = (
        sub.text(key, required=True,
                 hint=f"add '{key}:' to this package (it needs group, artifact, version)") or ""
        for key in ("group", "artifact", "version"))
    extra, unknown = sub.rest(known=["group", "artifact", "version"])
    warnings.extend(unknown)
    return MavenPackage(group, artifact, version, extra=extra)


def write_conda(model: CondaDependencies, path: Path | None = None) -> Path:
    """Write a conda environment file atomically (pip list last, as conda expects)."""
    path = _target(model.path, path, "write_conda")
    dependencies: list[Any] = list(model.conda)
    if model.pip:
        dependencies.append({"pip": list(model.pip)})
    values: dict[str, Any] = {}
    if model.name is not None or "name" in model.key_order:
        values["name"] = model.name
    if model.channels or "channels" in model.key_order:
        values["channels"] = list(model.channels)
    values["dependencies"] = dependencies
    values.update(model.extra)
    keys = order_keys(model.key_order, values)
    header = "Conda environment of the runs (aml_magic; Azure ML Workbench format)."
    return atomic_write(path, render(((k, values[k]) for k in keys), header=header,
                                     comments=_CONDA_COMMENTS))


def write_spark(model: SparkDependencies, path: Path | None = None) -> Path:
    """Write ``spark_dependencies.yml`` atomically."""
    path = _target(model.path, path, "write_spark")
    packages = [{"group": p.group, "artifact": p.artifact, "version": p.version, **p.extra}
                for p in model.packages]
    values: dict[str, Any] = {"configuration": dict(model.configuration),
                              "repositories": list(model.repositories), "packages": packages}
    values.update(model.extra)
    keys = order_keys(model.key_order, values)
    header = "Spark settings and packages for PySpark runs (aml_magic; Workbench format)."
    return atomic_write(path, render(((k, values[k]) for k in keys), header=header,
                                     comments=_SPARK_COMMENTS))


def _target(model_path: Path | None, path: Path | None, who: str) -> Path:
    chosen = Path(path or model_path or "")
    if not chosen.name:
        raise ValueError(f"{who} needs a path: the model was not loaded from a file")
    return chosen
