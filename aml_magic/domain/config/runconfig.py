"""``<name>.runconfig``: what to run, on which target, with which environment."""
from __future__ import annotations

import re
from aml_magic.domain.plain_data import field, plain_data
from pathlib import Path

from aml_magic.errors import ConfigError
from aml_magic.domain.config._emit import atomic_write, order_keys, render
from aml_magic.domain.config._fields import Fields, describe, load_mapping
from aml_magic.domain.secrets import is_reference, looks_secret, url_passwords
from aml_magic.domain.envvars import EnvironmentVariables, is_variable_name, variable_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

FRAMEWORKS = ("Python", "PySpark")
DEFAULT_CONDA_FILE = "aml_config/conda_dependencies.yml"
DEFAULT_SPARK_FILE = "aml_config/spark_dependencies.yml"
FILE_TOKEN = "$file"
IGNORED_KEYS = ("UseSampling", "DataSourceSettings", "DataSourceSubstitutions")
_LEGACY_KEYS = ("ManagedEnvironment", "Description")     # early format: kept, not used

Argument = str | int | float

_TARGET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
_KEYS: dict[str, str] = {
    "argument_vector": "ArgumentVector",
    "target": "Target",
    "environment_variables": "EnvironmentVariables",
    "framework": "Framework",
    "conda_dependencies_file": "CondaDependenciesFile",
    "spark_dependencies_file": "SparkDependenciesFile",
    "prepare_environment": "PrepareEnvironment",
    "tracked_run": "TrackedRun",
}
_COMMENTS = {
    "ArgumentVector": "The command line. $file stands for the script named at submit time;\n"
                      "arguments given at submit time are appended.",
    "Target": "Name of the compute target (aml_config/<Target>.compute).",
    "EnvironmentVariables": "Environment variables set for the run.",
    "Framework": "Python or PySpark.",
    "CondaDependenciesFile": "Conda environment file, relative to the project root.",
    "SparkDependenciesFile": "Spark settings and packages, relative to the project root.",
    "PrepareEnvironment": "Build the run's environment as part of the run when it is missing.",
    "TrackedRun": "Record the run in the run history.",
}


@plain_data
class RunConfiguration:
    """One ``<name>.runconfig`` (or early ``.amb``) file, with FORMATS.md defaults applied."""

    name: str
    target: str
    argument_vector: list[Argument] = field(default_factory=lambda: [FILE_TOKEN])
    environment_variables: EnvironmentVariables | None = None
    framework: str = "PySpark"
    conda_dependencies_file: str | None = DEFAULT_CONDA_FILE
    spark_dependencies_file: str | None = DEFAULT_SPARK_FILE
    prepare_environment: bool = False
    tracked_run: bool = True
    ignored_keys: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    path: Path | None = field(default=None, compare=False)
    warnings: list[str] = field(default_factory=list, compare=False)
    key_order: list[str] = field(default_factory=list, compare=False, repr=False)

    def resolve_arguments(self, script: str | None, args: list[str] | tuple[str, ...] = ()
                          ) -> list[str]:
        """The command line of a run. ``$file`` becomes ``script``; ``args`` are appended. A vector
        without ``$file`` is used as it is when no script is named, and replaced by the script
        when one is (Workbench: the vector is the command "when not specified through other
        means")."""
        vector = [argument_text(item) for item in (self.argument_vector or [FILE_TOKEN])]
        uses_token = any(FILE_TOKEN in item for item in vector)
        if script is None:
            if uses_token:
                raise ConfigError(f"run configuration '{self.name}' runs '$file' but no script was "
                                  "named; name one, e.g. 'aml experiment submit -c "
                                  f"{self.name} train.py'", path=_str(self.path))
            command = vector
        elif uses_token:
            command = [item.replace(FILE_TOKEN, script) for item in vector]
        else:
            command = [script]
        return command + [str(arg) for arg in args]


def argument_text(item: Argument) -> str:
    return str(item)


def _str(path: Path | None) -> str | None:
    return str(path) if path is not None else None


def load_runconfig(path: Path) -> RunConfiguration:
    """Load one ``.runconfig``/``.amb`` file (YAML or JSON)."""
    path = Path(path)
    root = load_mapping(path, what="run configuration")
    f = Fields(root, path)
    warnings: list[str] = []
    target = f.text("Target", required=True,
                    hint="add a line 'Target: <name>' naming a .compute file in aml_config/")
    if target and not _TARGET_NAME.fullmatch(target):
        raise f.error(f.entry("Target"), f"'Target: {target}' is not a compute target name; "
                      "use the name of a .compute file in aml_config/ (letters, digits, '_', "
                      "'-', '.')")
    conda = f.text("CondaDependenciesFile")
    if not f.has("CondaDependenciesFile") and f.has("CondaFile"):
        conda = f.text("CondaFile")               # early format, same meaning
    order = ["CondaDependenciesFile" if k == "CondaFile" and not f.has("CondaDependenciesFile")
             else k for k in f.order]
    config = RunConfiguration(
        name=path.stem, target=target or "",
        argument_vector=_argument_vector(f),
        environment_variables=_environment(f),
        framework=f.choice("Framework", FRAMEWORKS, default="PySpark") or "PySpark",
        conda_dependencies_file=conda or DEFAULT_CONDA_FILE,
        spark_dependencies_file=f.text("SparkDependenciesFile") or DEFAULT_SPARK_FILE,
        prepare_environment=f.flag("PrepareEnvironment", False),
        tracked_run=f.flag("TrackedRun", True),
        path=path)
    extra, unknown = f.rest(known=[*_KEYS.values(), *IGNORED_KEYS],
                            quiet=(*IGNORED_KEYS, *_LEGACY_KEYS))
    config.ignored_keys = [key for key in IGNORED_KEYS if key in extra]
    if config.ignored_keys:
        warnings.append(f"{path}: {', '.join(config.ignored_keys)}: Workbench data-source sampling "
                        "is not supported by aml_magic; kept in the file and ignored")
    warnings += _literal_secret_warnings(f, path, config.environment_variables)
    config.extra, config.warnings, config.key_order = extra, warnings + unknown, order
    return config


def _literal_secret_warnings(f: Fields, path: Path, env: EnvironmentVariables | None) -> list[str]:
    """One warning per secret-looking variable (or URL with a password) written literally in
    the file: it is masked in history and logs, but the file itself is shared."""
    entry = (f.node.entries or {}).get("EnvironmentVariables")
    lines = {k: e.line for k, e in ((entry.node.entries or {}) if entry else {}).items()}
    out = []
    for name, value in (env or {}).items():
        if value and not is_reference(value) and (looks_secret(name) or url_passwords(value)):
            out.append(f"{path}:{lines.get(name, 0) or '?'}: EnvironmentVariables.{name} holds "
                       f"a literal secret; store it with `aml secret set {name}` and put the "
                       "reference it prints in its place")
    return out


def _argument_vector(f: Fields) -> list[Argument]:
    entry = f.entry("ArgumentVector")
    if entry is None or entry.node.value is None:
        return [FILE_TOKEN]
    if not entry.node.is_sequence:
        raise f.error(entry, "'ArgumentVector' must be a list such as ['$file', '--alpha', '0.5'],"
                             f" not {describe(entry.node.value)}")
    vector: list[Argument] = []
    for item in entry.node.items or []:
        value = item.value
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            if item.is_mapping or item.is_sequence or value is None:
                raise f.error(item, "each 'ArgumentVector' item must be text or a number, "
                                    f"not {describe(value)}")
            value = item.raw or str(value)         # true, dates...: keep what was written
        vector.append(value)
    return vector


def _environment(f: Fields) -> EnvironmentVariables | None:
    node = f.mapping("EnvironmentVariables")
    if node is None:
        return None
    env: EnvironmentVariables = {}
    for key, entry in (node.entries or {}).items():
        value = entry.node
        if value.is_mapping or value.is_sequence:
            raise f.error(value, f"environment variable '{key}' must be text, "
                                 f"not {describe(value.value)}")
        if not is_variable_name(key):
            raise f.error(entry, f"'{key}' cannot be an environment variable name (it must be "
                                 "non-empty, without '=')")
        try:
            env[key] = variable_text(value.value, value.raw)
        except ValueError:                  # a date, a binary: keep what was written
            env[key] = value.raw if value.raw is not None else str(value.value)
    return env


def write_runconfig(config: RunConfiguration, path: Path | None = None) -> Path:
    """Write ``config`` atomically in Workbench style (PascalCase keys)."""
    path = Path(path or config.path or "")
    if not path.name:
        raise ValueError("write_runconfig needs a path: the model was not loaded from a file")
    if not config.target:
        raise ConfigError("a run configuration needs a Target", path=str(path))
    if config.framework not in FRAMEWORKS:
        raise ConfigError(f"Framework '{config.framework}' is not one of: {', '.join(FRAMEWORKS)}",
                          path=str(path))
    values: dict[str, Any] = {key: getattr(config, attr) for attr, key in _KEYS.items()}
    values["ArgumentVector"] = list(config.argument_vector or [FILE_TOKEN])
    values.update(config.extra)
    keys = order_keys(config.key_order, values)
    header = f"Run configuration '{config.name}' (aml_magic; Azure ML Workbench format)."
    return atomic_write(path, render(((k, values[k]) for k in keys), header=header,
                                     comments=_COMMENTS))
