"""A project's ``aml_config/`` folder as a whole: finding it, listing and naming its targets and
run configurations, creating it (``aml init``)."""
from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType

from aml_magic.errors import ConfigError, ProjectNotFound
from aml_magic.domain.config._emit import atomic_create
from aml_magic.domain.config.compute import ComputeTarget, load_compute, write_compute
from aml_magic.domain.config.runconfig import RunConfiguration, load_runconfig, write_runconfig
from aml_magic.domain.config.ignore_entries import ADOPTED_ENTRIES, IGNORE_FILE_NAMES, ensure_entries
from aml_magic.domain.config.templates import AMLIGNORE, CONFIG_FILES

TYPE_CHECKING = False
if TYPE_CHECKING:   # loaded on first use: a local run never reads its conda or Spark file
    from aml_magic.domain.config.dependencies import CondaDependencies, SparkDependencies

CONFIG_DIR = "aml_config"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")


def check_name(name: str, *, what: str = "name") -> str:
    """A target/run configuration name becomes a file name: letters, digits, ``_ . -`` only."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name.endswith("."):
        raise ConfigError(f"'{name}' is not a valid {what}; use letters, digits, '_', '-' and "
                          "'.', starting with a letter or digit")
    return name


class ProjectConfig:
    """The ``aml_config/`` folder of the project at ``root``. Files are read on each call, so
    edits made by hand are seen at once."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.config_dir = self.root / CONFIG_DIR

    def __repr__(self) -> str:
        return f"ProjectConfig({str(self.root)!r})"

    # paths -----------------------------------------------------------------------------------
    def compute_path(self, name: str) -> Path:
        return self.config_dir / f"{check_name(name, what='compute target name')}.compute"

    def runconfig_path(self, name: str) -> Path:
        return self.config_dir / f"{check_name(name, what='run configuration name')}.runconfig"

    def compute_names(self) -> list[str]:
        return self._names(".compute")

    def runconfig_names(self) -> list[str]:
        """``.runconfig`` files, plus early ``.amb`` files that have no ``.runconfig`` twin."""
        return sorted(set(self._names(".runconfig")) | set(self._names(".amb")))

    def _names(self, suffix: str) -> list[str]:
        if not self.config_dir.is_dir():
            return []
        return sorted(p.stem for p in self.config_dir.iterdir()
                      if p.suffix == suffix and p.is_file() and not p.name.startswith("."))

    # reading ---------------------------------------------------------------------------------
    def compute_targets(self) -> dict[str, ComputeTarget]:
        return {name: load_compute(self.config_dir / f"{name}.compute")
                for name in self.compute_names()}

    def run_configurations(self) -> dict[str, RunConfiguration]:
        return {name: self.runconfig(name) for name in self.runconfig_names()}

    def compute(self, name: str) -> ComputeTarget:
        path = self.compute_path(name)
        if not path.is_file():
            raise ConfigError(f"no compute target '{name}' in {self.config_dir}; "
                              f"existing: {_listing(self.compute_names())}. Attach one with "
                              "'aml computetarget attach'")
        return load_compute(path)

    def runconfig(self, name: str) -> RunConfiguration:
        path = self.runconfig_path(name)
        if not path.is_file() and (self.config_dir / f"{name}.amb").is_file():
            path = self.config_dir / f"{name}.amb"
        if not path.is_file():
            raise ConfigError(f"no run configuration '{name}' in {self.config_dir}; "
                              f"existing: {_listing(self.runconfig_names())}")
        return load_runconfig(path)

    def conda_dependencies(self, config: RunConfiguration) -> CondaDependencies:
        """The conda file a run configuration names (relative to the project root)."""
        return dependency_models().load_conda(self._dependency(config, config.conda_dependencies_file,
                                           "CondaDependenciesFile"))

    def spark_dependencies(self, config: RunConfiguration) -> SparkDependencies:
        return dependency_models().load_spark(self._dependency(config, config.spark_dependencies_file,
                                           "SparkDependenciesFile"))

    def target_of(self, config: RunConfiguration) -> ComputeTarget:
        """The ``.compute`` a run configuration's ``Target`` names; a missing one is an error
        naming the run configuration file (where the bad value is)."""
        if config.target not in self.compute_names():
            raise ConfigError(f"Target '{config.target}' names no compute target in "
                              f"{self.config_dir}; existing: {_listing(self.compute_names())}. "
                              "Fix Target or attach it with 'aml computetarget attach'",
                              path=str(config.path) if config.path else None)
        return self.compute(config.target)

    def check_run(self, config: RunConfiguration, *, builds_environments: bool) -> None:
        """Validate every file a run of ``config`` will read, before anything is recorded or
        sent: the target's ``.compute`` (its name must exist), the conda file when the target
        builds an environment from it, the Spark file for a PySpark run. Each error names the
        file holding the bad value (and its line)."""
        compute = self.target_of(config)
        if builds_environments and not compute.user_managed_environment:
            self.conda_dependencies(config)
        if config.framework == "PySpark":
            self.spark_dependencies(config)

    def _dependency(self, config: RunConfiguration, relative: str | None, key: str) -> Path:
        path = (self.root / (relative or "")).resolve()
        if not path.is_file():
            raise ConfigError(f"{key} '{relative}' of run configuration '{config.name}' does not "
                              f"exist ({path}); create it or fix {key}",
                              path=str(config.path) if config.path else None)
        return path

    # writing ---------------------------------------------------------------------------------
    def write_compute(self, target: ComputeTarget) -> Path:
        return write_compute(target, self.compute_path(target.name))

    def write_runconfig(self, config: RunConfiguration) -> Path:
        return write_runconfig(config, self.runconfig_path(config.name))

    def remove(self, name: str, *, compute: bool = True, runconfig: bool = True) -> list[Path]:
        """Delete ``<name>.compute`` and/or ``<name>.runconfig``; the removed paths. Detaching a
        target removes both, as Workbench did."""
        candidates = ([self.compute_path(name)] if compute else []) + \
                     ([self.runconfig_path(name)] if runconfig else [])
        removed = []
        for path in candidates:
            try:
                path.unlink()
                removed.append(path)
            except FileNotFoundError:
                pass
        if not removed:
            kinds = " or ".join(k for k, on in (("compute target", compute),
                                                ("run configuration", runconfig)) if on)
            raise ConfigError(f"no {kinds} '{name}' in {self.config_dir}; existing targets: "
                              f"{_listing(self.compute_names())}; run configurations: "
                              f"{_listing(self.runconfig_names())}")
        return removed


def _listing(names: list[str]) -> str:
    return ", ".join(names) if names else "none"


def dependency_models() -> ModuleType:
    """``config.dependencies``, the models of conda and Spark files, imported on first use."""
    # three dataclasses a local run never needs (~2% of `aml experiment submit`)
    from aml_magic.domain.config import dependencies
    return dependencies


def find_project(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: the working directory) that holds
    ``aml_config/``."""
    here = Path(start if start is not None else Path.cwd()).absolute()
    if here.is_file():
        here = here.parent
    for folder in (here, *here.parents):
        if (folder / CONFIG_DIR).is_dir():
            return folder
    raise ProjectNotFound(f"{here} is not inside an aml_magic project (no {CONFIG_DIR}/ folder "
                          "there or above); run 'aml init' in the project folder, or "
                          "'%aml_init' in a notebook")


def init_project(directory: Path) -> Path:
    """Make ``directory`` a project: ``aml_config/`` with the local and docker pairs and both
    dependency files, ``.amlignore``, and ``.aml/``, ``outputs/``, ``logs/`` in ``.gitignore``
    and ``.amlignore`` (``ignore_entries``). Existing files are left exactly as they are (ignore
    files only get missing entries appended), so running it twice is harmless. Returns the
    project root."""
    root = create_config_files(directory)
    for name in IGNORE_FILE_NAMES:
        ensure_entries(root / name, ADOPTED_ENTRIES)
    return root


def create_config_files(directory: Path) -> Path:
    """``aml_config/`` with the local and docker pairs and both dependency files, and the
    template ``.amlignore``, each only where absent. Returns the project root."""
    root = Path(directory).absolute()
    config_dir = root / CONFIG_DIR
    config_dir.mkdir(parents=True, exist_ok=True)
    for name, text in CONFIG_FILES.items():
        atomic_create(config_dir / name, text)
    atomic_create(root / ".amlignore", AMLIGNORE)
    return root
