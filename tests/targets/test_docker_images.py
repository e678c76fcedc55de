"""Environment images against the real Docker engine the suite starts (tests/fixtures/dockerd)."""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any, Iterator

import pytest

from aml_magic.domain.environment import environment_identity, plan_environment
from aml_magic.errors import ConfigError, EnvironmentNotPrepared, TargetError
from aml_magic.targets.container.engine import DockerCli
from aml_magic.targets.container.images import ENV_PYTHON, DockerEnvironmentBuilder
from aml_magic.transports.local import LocalTransport
from tests.fixtures.dockerd import (
    DockerEngine,  # the `dockerd` fixture: tests/conftest.py
)

FAKE_CONDA_IMAGE = "aml-magic/test-fake-micromamba:2"


@dataclass
class Conda:
    """Stand-in with the attributes of ``aml_magic.domain.config.CondaDependencies``."""
    name: str = "project_environment"
    channels: list[str] = field(default_factory=list)
    conda: list[str] = field(default_factory=list)
    pip: list[str] = field(default_factory=list)
    path: str | None = "aml_config/conda_dependencies.yml"


class SdkBuilder(DockerEnvironmentBuilder):
    """The builder (driving the ``docker`` command) plus an SDK client for the test's checks."""
    client: Any


def make_builder(dockerd: DockerEngine, **options: Any) -> SdkBuilder:
    # the suite's engine has no bridge network: builds use the host's
    engine = DockerCli(LocalTransport(), host=dockerd.host, where="docker")
    builder = SdkBuilder(engine, network="host", **options)
    builder.client = dockerd.client()
    return builder


@pytest.fixture
def builder(dockerd: DockerEngine) -> Iterator[SdkBuilder]:
    yield make_builder(dockerd)


def _forget(builder: DockerEnvironmentBuilder, identity: str) -> None:
    """Remove an environment image left by an earlier session, so the build really happens."""
    import docker
    try:
        builder.client.images.remove(builder.image_tag(identity), force=True)
    except docker.errors.ImageNotFound:
        pass


def _run(client: Any, image: str, code: str, *, python: str = "python") -> str:
    out = client.containers.run(image, [python, "-c", code], network_mode="none", remove=True)
    return out.decode().strip()


def test_importing_the_builder_does_not_import_docker() -> None:
    code = ("import sys, aml_magic.targets.container.images, aml_magic.domain.environment; "
            "sys.exit('docker' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_base_image_has_python_with_venv(dockerd: DockerEngine) -> None:
    # Given the locally built base image, When a container runs Python in it
    out = _run(dockerd.client(), dockerd.base_image,
               "import sys, venv, ssl; print('%d.%d' % sys.version_info[:2])", python="python3")
    # Then Debian bookworm's Python 3.11 answers with venv and ssl available
    assert out == "3.11"


def test_prepare_builds_once_then_reuses_and_rebuilds_on_change(
        builder: DockerEnvironmentBuilder, dockerd: DockerEngine) -> None:
    base = dockerd.base_image
    spec = Conda(conda=["python=3", "six=1.16"], pip=["tomli==2.0.1"])
    plan = plan_environment(spec, base_image=base, framework="Python")
    _forget(builder, plan.identity)
    # Given no environment image, When prepared, Then it is built once, with uv, and labelled
    assert builder.find(plan.identity) is None
    progress: list[str] = []
    result = builder.build(plan, base, on_progress=progress.append)
    assert result.installer == "uv" and result.unhonoured == []
    assert any("six==1.16" in line for line in progress)
    image = builder.find(plan.identity)
    assert image is not None
    assert image.labels["org.aml-magic.identity"] == plan.identity
    assert json.loads(image.labels["org.aml-magic.specs"])["pip"] == ["tomli==2.0.1"]
    # When the same specification, reordered and re-commented, is prepared again
    same = Conda(conda=["SIX = 1.16", "python=3"], pip=[" tomli == 2.0.1"])
    identity = environment_identity(same, base_image=base, framework="Python")
    found = builder.find(identity)
    # Then the built image is found and ensure() reuses it (timings: benchmarks/)
    assert found is not None and found.id == image.id
    again = builder.ensure(plan_environment(same, base_image=base, framework="Python"), base)
    assert not again.built and again.installer == "uv"
    # When the specification really changes, Then it has a new identity that needs a build
    changed = plan_environment(Conda(conda=["python=3", "six=1.16"], pip=["tomli==2.0.0"]),
                               base_image=base, framework="Python")
    _forget(builder, changed.identity)
    assert changed.identity != plan.identity and builder.find(changed.identity) is None
    builder.build(changed, base)
    assert _run(builder.client, builder.image_tag(changed.identity),
                "import tomli; print(tomli.__version__)") == "2.0.0"


def test_pip_packages_are_importable_from_the_env_python(
        builder: DockerEnvironmentBuilder, dockerd: DockerEngine) -> None:
    # Given an environment with pinned pure-Python packages (built here or by an earlier test)
    plan = plan_environment(Conda(conda=["python=3", "six=1.16"], pip=["tomli==2.0.1"]),
                            base_image=dockerd.base_image, framework="Python")
    if builder.find(plan.identity) is None:
        builder.build(plan, dockerd.base_image)
    # When `python` runs in a container of the env image (no network)
    out = _run(builder.client, builder.image_tag(plan.identity),
               "import sys, six, tomli; print(sys.executable, six.__version__, tomli.__version__)")
    # Then it is the environment's interpreter and sees the packages
    assert out.split() == [ENV_PYTHON, "1.16.0", "2.0.1"]
    # And the build folder (uv binary, CA bundle) did not end up in the image
    assert _run(builder.client, builder.image_tag(plan.identity),
                "import os; print(os.path.exists('/tmp/aml-build'))") == "False"


def test_uv_comes_from_pypi_when_the_client_cannot_ship_it(
        dockerd: DockerEngine) -> None:
    # Given a builder that does not ship the client's uv, and no build cache
    builder = make_builder(dockerd, ship_uv=False)
    plan = plan_environment(Conda(pip=["tomli==2.0.1"], channels=["uv-from-pypi"]),
                            base_image=dockerd.base_image, framework="Python")
    _forget(builder, plan.identity)
    progress: list[str] = []
    # When built with uv, Then uv is installed from PyPI and used
    result = builder.build(plan, dockerd.base_image, use_cache=False, on_progress=progress.append)
    assert "aml: installing uv from PyPI" in progress and result.installer == "uv"


def test_pip_installer_and_unknown_conda_names_are_reported(
        builder: DockerEnvironmentBuilder, dockerd: DockerEngine) -> None:
    # Given a spec with a conda-only package and a conda name PyPI lacks, built with pip
    plan = plan_environment(
        Conda(conda=["mkl", "aml-magic-no-such-package-zz"], pip=["six==1.16.0"]),
        base_image=dockerd.base_image, framework="Python")
    _forget(builder, plan.identity)
    progress: list[str] = []
    result = builder.build(plan, dockerd.base_image, installer="pip",
                           on_progress=progress.append)
    # Then pip built it, and both specs are reported by name (warned, not fatal)
    assert result.installer == "pip"
    assert [u.spec for u in result.unhonoured] == ["mkl", "aml-magic-no-such-package-zz"]
    assert any(line.startswith("warning:") and "mkl" in line for line in progress)
    assert _run(builder.client, result.tag, "import six; print(six.__version__)") == "1.16.0"


def test_strict_refuses_an_unavailable_python_before_building(
        builder: DockerEnvironmentBuilder, dockerd: DockerEngine) -> None:
    # Given Python 3.5.2 requested on an image with 3.11
    plan = plan_environment(Conda(conda=["python=3.5.2", "numpy"]),
                            base_image=dockerd.base_image, framework="Python")
    before = {c.id for c in builder.client.containers.list(all=True)}
    # When built strictly, Then it fails naming the spec and the file, and builds nothing
    with pytest.raises(ConfigError, match=r"python=3\.5\.2 \(the image has Python 3\.11"):
        builder.build(plan, dockerd.base_image, strict=True)
    assert builder.find(plan.identity) is None
    assert {c.id for c in builder.client.containers.list(all=True)} == before


def test_unprepared_environment_without_prepare_says_how_to_prepare(
        builder: DockerEnvironmentBuilder, dockerd: DockerEngine) -> None:
    # Given an environment nobody built, When a run must not build it (PrepareEnvironment false)
    plan = plan_environment(Conda(pip=["tomli==1.2.3"]), base_image=dockerd.base_image,
                            framework="Python")
    _forget(builder, plan.identity)
    with pytest.raises(EnvironmentNotPrepared, match=r"aml experiment prepare -c docker"):
        builder.ensure(plan, dockerd.base_image, build=False, runconfig="docker")
    # Then nothing was built
    assert builder.find(plan.identity) is None


def test_missing_base_image_names_the_image_and_the_compute_file(
        builder: DockerEnvironmentBuilder) -> None:
    plan = plan_environment(None, base_image="aml-magic/no-such-image:1", framework="Python")
    # When the base image is neither present nor pullable
    with pytest.raises(TargetError) as err:
        builder.build(plan, "aml-magic/no-such-image:1",
                      compute_file="aml_config/docker.compute")
    # Then the message names the image and the file to change
    assert "'aml-magic/no-such-image:1'" in str(err.value)
    assert "baseDockerImage in aml_config/docker.compute" in str(err.value)


@pytest.fixture
def fake_conda_image(dockerd: DockerEngine) -> str:
    """The base image plus a stand-in `micromamba` that records its arguments in a venv."""
    import docker
    client = dockerd.client()
    try:
        client.images.get(FAKE_CONDA_IMAGE)
        return FAKE_CONDA_IMAGE
    except docker.errors.ImageNotFound:
        pass
    script = ('#!/bin/sh\n# create -y -p PREFIX -f FILE\n'
              'python3 -m venv --without-pip "$4" && cp "$6" "$4/environment.yml"\n')
    container = client.containers.run(
        dockerd.base_image, ["sh", "-c", "cat > /usr/local/bin/micromamba <<'EOF'\n" + script
                             + "EOF\nchmod +x /usr/local/bin/micromamba"],
        network_mode="none", detach=True)
    container.wait()
    repo, tag = FAKE_CONDA_IMAGE.split(":")
    container.commit(repository=repo, tag=tag)
    container.remove()
    return FAKE_CONDA_IMAGE


def test_image_with_micromamba_gets_the_whole_conda_file(
        builder: DockerEnvironmentBuilder, fake_conda_image: str) -> None:
    # Given an image with micromamba and a spec a venv could not honour
    plan = plan_environment(Conda(channels=["conda-forge"], conda=["python=3.5.2", "mkl"],
                                  pip=["six"]), base_image=fake_conda_image, framework="Python")
    _forget(builder, plan.identity)
    # When built (strictly), Then micromamba gets the environment file and nothing is refused
    result = builder.build(plan, fake_conda_image, strict=True)
    assert result.installer == "micromamba" and result.unhonoured == []
    env = json.loads(_run(builder.client, result.tag,
                          "print(open('/opt/aml-env/environment.yml').read())"))
    assert env["channels"] == ["conda-forge"]
    assert env["dependencies"] == ["python=3.5.2", "mkl", {"pip": ["six"]}]
