"""Execution environments: their identity, and how a conda specification maps onto a target.

The identity is a hash of the *normalized* ``conda_dependencies.yml`` (order, comments, spacing
and name case do not matter; channel order does, as it does in conda), the base image and the
framework. Equal identities mean equal environments on every target that builds them, so an
environment is built once and reused until the specification really changes.

A target without conda gets a venv instead: the pip section plus the conda names that exist on
PyPI. What cannot be honoured there (a Python version the image lacks, a conda-only package) is
reported by name; ``strict`` turns that report into an error.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Protocol, Sequence

from aml_magic.errors import ConfigError

IDENTITY_SCHEME = 1          # bump when the build recipe changes what an identity produces
IDENTITY_LENGTH = 20

# conda name -> PyPI name, where they differ or where the name is known to exist on both.
CONDA_TO_PYPI: dict[str, str] = {
    "pytorch": "torch", "pytorch-cpu": "torch", "py-xgboost": "xgboost",
    "matplotlib-base": "matplotlib", "pytables": "tables", "msgpack-python": "msgpack",
    "python-graphviz": "graphviz", "py-opencv": "opencv-python", "opencv": "opencv-python",
    "pyqt": "PyQt5", "tensorflow-gpu": "tensorflow", "python-dateutil": "python-dateutil",
    "scikit-learn": "scikit-learn", "numpy": "numpy", "scipy": "scipy", "pandas": "pandas",
    "matplotlib": "matplotlib", "ipykernel": "ipykernel", "jupyter": "jupyter",
    "notebook": "notebook", "seaborn": "seaborn", "requests": "requests", "six": "six",
    "pillow": "pillow", "h5py": "h5py", "keras": "keras", "tensorflow": "tensorflow",
    "xgboost": "xgboost", "lightgbm": "lightgbm", "cython": "cython", "nltk": "nltk",
    "statsmodels": "statsmodels", "bokeh": "bokeh", "plotly": "plotly", "pyyaml": "pyyaml",
    "setuptools": "setuptools", "wheel": "wheel", "scikit-image": "scikit-image",
    "pyspark": "pyspark", "azure-storage": "azure-storage", "tqdm": "tqdm", "joblib": "joblib",
    "sqlalchemy": "sqlalchemy", "psutil": "psutil", "gensim": "gensim", "theano": "theano",
}
# Conda packages with no PyPI counterpart: native libraries, toolchains, conda itself.
CONDA_ONLY: frozenset[str] = frozenset({
    "anaconda", "blas", "ca-certificates", "conda", "conda-build", "cudatoolkit", "cudnn", "gcc",
    "graphviz", "icu", "mkl", "ncurses", "nccl", "nodejs", "nomkl", "openblas", "openssl",
    "readline", "sqlite", "tk", "vc", "vs2015_runtime", "xz", "zlib", "hdf5", "curl", "git",
})
_CONDA_ONLY_PREFIXES = ("r-", "lib", "_")
# The Workbench SDK was never on PyPI; aml_magic gives every run its own azureml.logging instead.
WORKBENCH_ONLY_PIP: frozenset[str] = frozenset({
    "azure-ml-api-sdk", "azureml-assets", "azureml-datacollector", "azureml-pyrecipes-dataframe",
})
_WORKBENCH_WHEEL_HOST = "azuremldownloads.blob.core.windows.net"
_WORKBENCH_REASON = "Workbench-only package, not on PyPI; runs get aml_magic's azureml.logging"
_HONOURED_BY_VENV = frozenset({"pip"})     # a venv has pip already

_CONDA_SPEC = re.compile(r"^(?:(?P<channel>[^\s:]+)::)?(?P<name>[A-Za-z0-9_.\-]+)\s*(?P<rest>.*)$")
_PIP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*(\[[^\]]*\])?\s*($|[<>=!~;@ ])")


class CondaLike(Protocol):
    """What ``aml_magic.domain.config.CondaDependencies`` offers (duck-typed on purpose)."""
    name: Any
    channels: Any
    conda: Any
    pip: Any


@dataclass(frozen=True)
class CondaSpec:
    """One conda match spec, split: ``conda-forge::numpy >=1.1`` -> channel, name, version."""
    name: str
    version: str = ""        # constraint without spaces: "=1.13", ">=1.1,<2", "==3.5.2"
    build: str = ""
    channel: str = ""

    def normalized(self) -> str:
        text = f"{self.channel}::{self.name}" if self.channel else self.name
        text += self.version
        return f"{text}={self.build}" if self.build else text

    def pip_requirement(self, pypi_name: str) -> str:
        """The pip requirement that asks PyPI for the same versions."""
        version = _conda_version_to_pep440(self.version)
        return pypi_name if "|" in version else pypi_name + version   # pip has no "or"


@dataclass(frozen=True)
class Unhonoured:
    spec: str
    reason: str

    def __str__(self) -> str:
        return f"{self.spec} ({self.reason})"


@dataclass
class EnvironmentPlan:
    """What to install for one specification; image facts decide the rest at build time."""
    identity: str
    python_request: str | None                 # conda constraint on python, e.g. "=3.5.2"
    pip: list[str]                             # the pip section, as written, minus Workbench-only
    from_conda: dict[str, str]                 # conda spec -> known PyPI requirement
    guessed: dict[str, str]                    # conda spec -> same-named PyPI requirement, tried
    conda_only: list[str]                      # conda specs no venv can honour
    conda_environment: dict[str, Any]          # environment file for conda/mamba/micromamba
    workbench_only: list[str] = field(default_factory=list)   # pip items nobody can install
    source: str | None = None                  # the conda_dependencies.yml path, for messages
    specs: dict[str, Any] = field(default_factory=dict)   # the normalized document hashed

    @property
    def venv_requirements(self) -> list[str]:
        """Requirements installed together into a venv (guessed names are tried one by one)."""
        return [*self.from_conda.values(), *self.pip]

    def unhonoured_with_conda(self) -> list[Unhonoured]:
        """Specs skipped even where conda builds the environment."""
        return [Unhonoured(s, _WORKBENCH_REASON) for s in self.workbench_only]

    def unhonoured_in_venv(self, image_python: str | None) -> list[Unhonoured]:
        """Specs a venv on an image with this Python version cannot honour."""
        out = [Unhonoured(s, "conda-only package, not on PyPI") for s in self.conda_only]
        out += self.unhonoured_with_conda()
        if self.python_request:
            spec = f"python{self.python_request}"
            if image_python is None:
                out.insert(0, Unhonoured(spec, "the image has no Python"))
            elif not python_satisfies(image_python, self.python_request):
                out.insert(0, Unhonoured(spec, f"the image has Python {image_python}"))
        return out


def environment_identity(conda: CondaLike | None, *, base_image: str, framework: str) -> str:
    """Hash of the normalized specification, base image and framework (hex, 20 characters)."""
    return _digest(normalized_document(conda, base_image=base_image, framework=framework))


def normalized_document(conda: CondaLike | None, *, base_image: str,
                        framework: str) -> dict[str, Any]:
    """The JSON document whose hash is the identity; also stored as an image label."""
    conda_specs = _strings(getattr(conda, "conda", None))
    pip_specs = _strings(getattr(conda, "pip", None))
    return {
        "scheme": IDENTITY_SCHEME,
        "base_image": base_image.strip(),
        "framework": (framework or "Python").strip().lower(),
        "channels": [c.strip() for c in _strings(getattr(conda, "channels", None))],
        "conda": sorted({parse_conda_spec(s).normalized() for s in conda_specs}),
        "pip": sorted({normalize_pip_spec(s) for s in pip_specs}),
    }


def plan_environment(conda: CondaLike | None, *, base_image: str,
                     framework: str) -> EnvironmentPlan:
    """Split a conda specification into what a venv installs and what only conda can do."""
    doc = normalized_document(conda, base_image=base_image, framework=framework)
    python_request: str | None = None
    from_conda: dict[str, str] = {}
    guessed: dict[str, str] = {}
    conda_only: list[str] = []
    for raw in _strings(getattr(conda, "conda", None)):
        spec = parse_conda_spec(raw)
        text = raw.strip()
        if spec.name == "python":
            python_request = spec.version or None
        elif spec.name in _HONOURED_BY_VENV:
            continue
        elif spec.name in CONDA_TO_PYPI:
            from_conda[text] = spec.pip_requirement(CONDA_TO_PYPI[spec.name])
        elif spec.name in CONDA_ONLY or spec.name.startswith(_CONDA_ONLY_PREFIXES):
            conda_only.append(text)
        else:
            guessed[text] = spec.pip_requirement(spec.name)
    pip: list[str] = []
    workbench_only: list[str] = []
    for item in (p.strip() for p in _strings(getattr(conda, "pip", None))):
        (workbench_only if _is_workbench_only(item) else pip).append(item)
    deps: list[Any] = [s.strip() for s in _strings(getattr(conda, "conda", None))]
    if pip:
        deps.append({"pip": pip})
    environment = {"name": str(getattr(conda, "name", None) or "aml-env"),
                   "channels": doc["channels"], "dependencies": deps}
    path = getattr(conda, "path", None)
    return EnvironmentPlan(identity=_digest(doc), python_request=python_request, pip=pip,
                           from_conda=from_conda, guessed=guessed, conda_only=conda_only,
                           conda_environment=environment, workbench_only=workbench_only,
                           source=str(path) if path else None, specs=doc)


def enforce(unhonoured: Sequence[Unhonoured], *, strict: bool, target: str,
            source: str | None = None, warn: Callable[[str], None] | None = None) -> None:
    """Warn about (or, when ``strict``, refuse) specs the target cannot honour, by name."""
    if not unhonoured:
        return
    listed = "; ".join(str(u) for u in unhonoured)
    where = source or "conda_dependencies.yml"
    if strict:
        raise ConfigError(f"target '{target}' cannot honour {len(unhonoured)} specification(s): "
                          f"{listed}. Change them in {where}, or use a base image with conda.",
                          path=source)
    if warn is not None:   # one line per spec: each can be fixed (or accepted) on its own
        for spec in unhonoured:
            warn(f"warning: target '{target}' ignores {spec} ({where})")


def parse_conda_spec(text: str) -> CondaSpec:
    """Parse ``name``, ``name=1.2``, ``name 1.2``, ``name>=1,<2``, ``ch::name=1.2=py36_0``."""
    m = _CONDA_SPEC.match(text.strip())
    if not m:
        return CondaSpec(name=re.sub(r"\s+", "", text).lower())
    rest = re.sub(r"\s+", " ", m.group("rest").strip())
    build = ""
    if rest and rest[0].isdigit():            # "numpy 1.11" / "numpy 1.11 py36_0"
        version, _, build = rest.partition(" ")
        version = "=" + version
    else:
        version = rest.replace(" ", "")
        if version.startswith("=") and not version.startswith("=="):
            version, sep, build = version[1:].partition("=")
            version = "=" + version
    return CondaSpec(name=m.group("name").lower(), version=version, build=build.strip(),
                     channel=(m.group("channel") or "").lower())


def normalize_pip_spec(text: str) -> str:
    """Canonical form of a pip requirement; URLs, paths and options are kept as written."""
    text = text.strip()
    if not _PIP_NAME.match(text) or "://" in text:
        return text
    try:
        from packaging.requirements import InvalidRequirement, Requirement
        from packaging.utils import canonicalize_name
    except ImportError:                       # pragma: no cover - packaging ships with pip
        return re.sub(r"\s+", "", text).lower()
    try:
        req = Requirement(text)
    except InvalidRequirement:
        return re.sub(r"\s+", "", text)
    req.name = canonicalize_name(req.name)
    return str(req)


def python_satisfies(version: str, conda_constraint: str) -> bool:
    """Whether a Python version meets a conda constraint such as ``=3.5``, ``>=3.6,<4``."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    try:
        wanted = _conda_version_to_pep440(conda_constraint)
        have = Version(version)
        return any(have in SpecifierSet(alt, prereleases=True) for alt in wanted.split("|"))
    except (InvalidSpecifier, InvalidVersion):
        return False


def _conda_version_to_pep440(version: str) -> str:
    """``=1.13`` (conda: 1.13.*) -> ``==1.13.*``; ``1.2|1.3`` alternatives kept with ``|``."""
    if not version:
        return ""
    alternatives = []
    for alt in version.split("|"):
        parts = []
        for part in alt.split(","):
            part = part.strip()
            if not part:
                continue
            if part.startswith("==") or part[:2] in (">=", "<=", "!=", "~=") or part[0] in "<>":
                parts.append(part)
            else:
                bare = part.lstrip("=")
                parts.append("==" + (bare if bare.endswith("*") else bare.rstrip(".") + ".*"))
        alternatives.append(",".join(parts))
    return "|".join(alternatives)


def _is_workbench_only(pip_item: str) -> bool:
    if _WORKBENCH_WHEEL_HOST in pip_item:
        return True
    name = re.split(r"[\s\[<>=!~;@]", normalize_pip_spec(pip_item), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower() in WORKBENCH_ONLY_PIP


def _strings(items: Iterable[Any] | None) -> list[str]:
    return [str(i) for i in (items or []) if i is not None and str(i).strip()]


def _digest(doc: dict[str, Any]) -> str:
    blob = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:IDENTITY_LENGTH]


__all__ = ["CondaSpec", "EnvironmentPlan", "Unhonoured", "environment_identity", "enforce",
           "normalized_document", "parse_conda_spec", "normalize_pip_spec", "plan_environment",
           "python_satisfies", "CONDA_TO_PYPI", "CONDA_ONLY", "WORKBENCH_ONLY_PIP"]
