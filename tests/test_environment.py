"""Environment identity and the venv plan of a conda specification (no Docker needed)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from aml_magic.domain.environment import (
    enforce, environment_identity, normalize_pip_spec, parse_conda_spec, plan_environment,
    python_satisfies,
)
from aml_magic.errors import ConfigError
from tests.config.corpus import require_corpus

BASE = "aml-magic/base:bookworm"


@dataclass
class Conda:
    """Stand-in with the attributes of ``aml_magic.domain.config.CondaDependencies``."""
    name: str = "project_environment"
    channels: list[str] = field(default_factory=list)
    conda: list[str] = field(default_factory=list)
    pip: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    path: str | None = None


def ident(conda: Conda | None, base: str = BASE, framework: str = "Python") -> str:
    return environment_identity(conda, base_image=base, framework=framework)


def test_identity_ignores_order_spacing_and_name_case() -> None:
    # Given the same specification written two ways
    a = Conda(conda=["python=3.6", "scikit-learn", "numpy >=1.1"], pip=["six==1.16.0", "tomli"])
    b = Conda(name="other", conda=["numpy>= 1.1", "Scikit-Learn ", "python=3.6"],
              pip=["tomli", "Six == 1.16.0"])
    # When both are hashed / Then the identities are equal, short hex
    assert ident(a) == ident(b)
    assert len(ident(a)) == 20 and int(ident(a), 16) >= 0


def test_identity_from_real_yaml_ignores_comments() -> None:
    # Given two YAML files differing only in comments and order
    import yaml
    one = yaml.safe_load("dependencies:\n  - python=3.6  # the interpreter\n  - numpy\n"
                         "  - pip:\n    - six\n")
    two = yaml.safe_load("# env\ndependencies:\n  - numpy\n  # - pandas\n  - python=3.6\n"
                         "  - pip: [six]\n")

    def model(doc: dict[str, Any]) -> Conda:
        deps = doc["dependencies"]
        return Conda(conda=[d for d in deps if isinstance(d, str)],
                     pip=[p for d in deps if isinstance(d, dict) for p in d["pip"]])

    # Then the identities are equal
    assert ident(model(one)) == ident(model(two))


@pytest.mark.parametrize("change", [
    lambda c: c.conda.append("pandas"),
    lambda c: c.pip.__setitem__(0, "six==1.15.0"),
    lambda c: c.channels.append("conda-forge"),
])
def test_identity_changes_with_the_specification(change: Any) -> None:
    # Given a specification, When it really changes, Then the identity changes
    before = Conda(channels=["defaults"], conda=["python=3.6"], pip=["six==1.16.0"])
    after = Conda(channels=["defaults"], conda=["python=3.6"], pip=["six==1.16.0"])
    change(after)
    assert ident(before) != ident(after)


def test_identity_keeps_channel_order_and_covers_base_and_framework() -> None:
    # Given channel order swapped, another base image, another framework
    c = Conda(channels=["conda-forge", "defaults"], conda=["numpy"])
    swapped = Conda(channels=["defaults", "conda-forge"], conda=["numpy"])
    # Then each gives a different identity
    assert ident(c) != ident(swapped)
    assert ident(c) != ident(c, base="debian:12")
    assert ident(c) != ident(c, framework="PySpark")
    assert ident(c, framework="Python") == ident(c, framework="python")


def test_identity_of_no_specification_is_stable() -> None:
    assert ident(None) == ident(Conda())


@pytest.mark.parametrize("text,normalized,pip", [
    ("numpy", "numpy", "numpy"),
    ("python=3.5.2", "python=3.5.2", "python==3.5.2.*"),
    ("conda-forge::NumPy >= 1.1, <2", "conda-forge::numpy>=1.1,<2", "numpy>=1.1,<2"),
    ("numpy=1.13=py36_0", "numpy=1.13=py36_0", "numpy==1.13.*"),
    ("scipy 1.0 py36_1", "scipy=1.0=py36_1", "scipy==1.0.*"),
    ("pkg=1.*", "pkg=1.*", "pkg==1.*"),
    ("x==1.2", "x==1.2", "x==1.2"),
])
def test_conda_specs_parse_and_map_to_pip(text: str, normalized: str, pip: str) -> None:
    spec = parse_conda_spec(text)
    assert spec.normalized() == normalized
    assert spec.pip_requirement(spec.name) == pip


def test_pip_specs_normalize_names_but_keep_urls() -> None:
    assert normalize_pip_spec(" Scikit_Learn >=0.19, <1 ") == "scikit-learn<1,>=0.19"
    assert normalize_pip_spec("https://host/Pkg-1.0.whl") == "https://host/Pkg-1.0.whl"
    assert normalize_pip_spec("./wheels/A.whl") == "./wheels/A.whl"


@pytest.mark.parametrize("have,want,ok", [
    ("3.11.2", "=3.5.2", False), ("3.11.2", "=3", True), ("3.11.2", "=3.1", False),
    ("3.11.2", "=3.11", True), ("3.11.2", ">=3.6,<4", True), ("3.5.2", "==3.5.2", True),
])
def test_python_version_requests_follow_conda_semantics(have: str, want: str, ok: bool) -> None:
    assert python_satisfies(have, want) is ok


def test_plan_sorts_conda_names_into_known_guessed_and_conda_only() -> None:
    # Given a Workbench-style specification
    c = Conda(conda=["python=3.5.2", "scikit-learn", "pytorch=1.0", "mkl", "pip", "my-lib"],
              pip=["six==1.16.0"], path="aml_config/conda_dependencies.yml")
    # When planned for a venv
    plan = plan_environment(c, base_image=BASE, framework="Python")
    # Then known names map to PyPI (with renames), unknown ones are tried, conda-only are listed
    assert plan.from_conda == {"scikit-learn": "scikit-learn", "pytorch=1.0": "torch==1.0.*"}
    assert plan.guessed == {"my-lib": "my-lib"}
    assert plan.conda_only == ["mkl"]
    assert plan.venv_requirements == ["scikit-learn", "torch==1.0.*", "six==1.16.0"]
    assert plan.identity == ident(c)
    assert plan.conda_environment["dependencies"][-1] == {"pip": ["six==1.16.0"]}
    # And on an image with Python 3.11 the python request and mkl are unhonoured, by name
    names = [u.spec for u in plan.unhonoured_in_venv("3.11.2")]
    assert names == ["python=3.5.2", "mkl"]
    assert [u.spec for u in plan.unhonoured_in_venv("3.5.2")] == ["mkl"]


def test_enforce_warns_or_fails_naming_the_specs() -> None:
    # Given unhonourable specs
    plan = plan_environment(Conda(conda=["python=2.7", "cudatoolkit"]), base_image=BASE,
                            framework="Python")
    bad = plan.unhonoured_in_venv("3.11.2")
    warnings: list[str] = []
    # When not strict, Then one warning line per spec names it and the file
    enforce(bad, strict=False, target="docker", source="aml_config/c.yml", warn=warnings.append)
    assert len(warnings) == 2, warnings
    assert "python=2.7" in warnings[0] and "cudatoolkit" in warnings[1]
    assert all("aml_config/c.yml" in line and "\n" not in line for line in warnings)
    # When strict, Then a ConfigError names the file and both specs
    with pytest.raises(ConfigError) as err:
        enforce(bad, strict=True, target="docker", source="aml_config/c.yml")
    assert "aml_config/c.yml" in str(err.value) and "cudatoolkit" in str(err.value)
    assert "python=2.7 (the image has Python 3.11.2)" in str(err.value)


def test_real_loader_reordered_and_recommented_files_share_an_identity(tmp_path: Path) -> None:
    from aml_magic.domain import config
    # Given two conda files that differ only in order, comments and spacing
    a, b = tmp_path / "a.yml", tmp_path / "b.yml"
    a.write_text("name: project_environment\ndependencies:\n  - python=3.5.2\n"
                 "  - scikit-learn  # models\n  - pip:\n    - six==1.16.0\n    - tomli\n")
    b.write_text("# edited\nname: project_environment\ndependencies:\n  - scikit-learn\n"
                 "  # - pandas\n  - python=3.5.2\n  - pip:\n    - tomli\n    - six == 1.16.0\n")
    # When loaded by aml_magic.domain.config and hashed, Then the identities match
    assert ident(config.load_conda(a)) == ident(config.load_conda(b))


def test_every_workbench_corpus_file_plans_and_reports_the_workbench_sdk() -> None:
    from aml_magic.domain import config
    files = sorted(require_corpus().glob("*/aml_config/conda_dependencies.yml"))
    assert files, "the Workbench corpus holds no */aml_config/conda_dependencies.yml"
    for path in files:
        # Given a real Workbench conda file, When planned for a venv on Python 3.11
        conda = config.load_conda(path)
        plan = plan_environment(conda, base_image=BASE, framework="Python")
        unhonoured = [u.spec for u in plan.unhonoured_in_venv("3.11.2")]
        # Then the identity is stable and the Workbench SDK is reported, never installed
        assert plan.identity == ident(config.load_conda(path))
        assert not any("azure-ml-api-sdk" in r for r in plan.venv_requirements), path
        sdk = [p for p in conda.pip if "azure-ml-api-sdk" in p]
        assert all(p in unhonoured for p in sdk), path
