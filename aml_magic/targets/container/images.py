"""Environment images on a Docker engine: find one by identity, or build it once.

An environment image is the base image plus ``/opt/aml-env`` (a conda environment where the image
has conda, mamba or micromamba; a venv filled by ``uv``, falling back to pip, where it has not),
committed as ``aml-magic/env:<identity>`` with labels recording what it holds. Building runs a
container (on the target's ``networkMode``, else the engine's default network: builds must reach
the package index), streams its output line by line, and commits it. The engine is a
``DockerCli``: the same code builds on this machine and, over SSH, on a VM.
"""
from __future__ import annotations

import io
import json
import os
import platform
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from aml_magic.domain.environment import EnvironmentPlan, Unhonoured, enforce
from aml_magic.errors import EnvironmentNotPrepared, TargetError
from aml_magic.targets.container.engine import DockerCli, ImageInfo, dockerfile_quote
from aml_magic.targets.env_build_scripts import (
    BUILD_DIR,
    CACHE_MOUNT,
    ENV_PREFIX,
    ENV_PYTHON,
    UNHONOURED_MARK,
    conda_script,
    installer_used,
    java_script,
    local_uv_binary,
    venv_script,
)

ProgressCallback = Callable[[str], None]

ENV_REPOSITORY = "aml-magic/env"
CACHE_VOLUME = "aml-magic-build-cache"
LABEL = "org.aml-magic."
CA_ENV_VARS = ("AML_MAGIC_BUILD_CA_BUNDLE", "SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE")

_PROBE = ("for t in micromamba mamba conda; do command -v $t && break; done; echo '--'; "
          "for p in python3 python; do command -v $p >/dev/null 2>&1 && "
          "$p -c 'import sys; print(\"%d.%d.%d\" % sys.version_info[:3])' && break; done; true")


@dataclass(frozen=True)
class ImageFacts:
    """What a base image offers: a conda-like tool and the version of its Python."""
    conda_tool: str | None
    python_version: str | None


@dataclass
class BuildResult:
    tag: str
    identity: str
    installer: str                       # conda | micromamba | mamba | uv | pip
    seconds: float
    unhonoured: list[Unhonoured] = field(default_factory=list)
    built: bool = True                   # False: an existing image was reused


class DockerEnvironmentBuilder:
    """Finds and builds environment images on one engine (a ``DockerCli``)."""

    def __init__(self, engine: DockerCli, *, cache_volume: str | None = CACHE_VOLUME,
                 ca_bundle: str | Path | None = None, ship_uv: bool = True,
                 network: str | None = None) -> None:
        self.engine = engine
        self.cache_volume = cache_volume
        self.ca_bundle = Path(ca_bundle) if ca_bundle else _default_ca_bundle()
        self.ship_uv = ship_uv
        self.network = network
        self._facts: dict[str, ImageFacts] = {}
        self._uv: Path | None | bool = False      # False: not looked up yet

    @staticmethod
    def image_tag(identity: str) -> str:
        return f"{ENV_REPOSITORY}:{identity}"

    def find(self, identity: str) -> ImageInfo | None:
        """The environment image for this identity, or None. One command: reuse is fast."""
        return self.engine.image(self.image_tag(identity))

    def ensure(self, plan: EnvironmentPlan, base_image: str, *, build: bool = True,
               runconfig: str | None = None, **options: Any) -> BuildResult:
        """Reuse the environment image when it exists (fast: one lookup), else build it; with
        ``build=False`` a missing one is ``EnvironmentNotPrepared`` saying how to prepare."""
        started = time.monotonic()
        image = self.find(plan.identity)
        if image is not None:
            return BuildResult(self.image_tag(plan.identity), plan.identity,
                               image.labels.get(f"{LABEL}installer", "?"),
                               time.monotonic() - started, built=False)
        if not build:
            name = runconfig or "NAME"
            raise EnvironmentNotPrepared(
                f"the environment of run configuration '{name}' ({self.image_tag(plan.identity)})"
                f" is not prepared and PrepareEnvironment is false: run `aml experiment prepare "
                f"-c {name}` (or %aml_prepare -c {name}) first, or set PrepareEnvironment: true")
        return self.build(plan, base_image, **options)

    def ensure_base_image(self, base_image: str, *, compute_file: str | Path | None = None,
                          pull: bool = True) -> ImageInfo:
        """The base image, pulled if absent; a clear error naming the ``.compute`` file if not."""
        image = self.engine.image(base_image)
        if image is not None:
            return image
        detail = f"it is not on the Docker engine of {self.engine.machine}"
        if pull:
            result = self.engine.pull(base_image)
            image = self.engine.image(base_image) if result.exit_code == 0 else None
            if image is not None:
                return image
            err = result.stderr.decode("utf-8", "replace").strip().splitlines()
            detail += f" and pulling it failed: {err[-1][:300] if err else 'no message'}"
        where = f"baseDockerImage in {compute_file}" if compute_file else "baseDockerImage"
        raise TargetError(f"base image '{base_image}' cannot be used: {detail}. Change {where} "
                          f"to an image the engine has or can pull, or build it first "
                          f"(scripts/build_base_image.sh makes aml-magic/base:bookworm).")

    def facts(self, base_image: str) -> ImageFacts:
        """Probe the image once (a short container) for conda tools and its Python version."""
        if base_image not in self._facts:
            out = self.engine.run_quick(base_image, ["sh", "-c", _PROBE])
            tools, _, pythons = out.partition("--")
            tool = tools.strip().splitlines()[-1].rsplit("/", 1)[-1] if tools.strip() else None
            version = pythons.strip().splitlines()[-1] if pythons.strip() else None
            self._facts[base_image] = ImageFacts(tool, version)
        return self._facts[base_image]

    def build(self, plan: EnvironmentPlan, base_image: str, identity: str | None = None, *,
              on_progress: ProgressCallback | None = None, installer: str = "uv",
              strict: bool = False, target: str = "docker",
              compute_file: str | Path | None = None, use_cache: bool = True,
              timeout: float | None = None) -> BuildResult:
        """Build ``aml-magic/env:<identity>`` from ``base_image`` and the plan; stream output."""
        if installer not in ("uv", "pip"):
            raise ValueError(f"installer must be 'uv' or 'pip', not {installer!r}")
        identity = identity or plan.identity
        say = on_progress or (lambda line: None)
        started = time.monotonic()
        base = self.ensure_base_image(base_image, compute_file=compute_file)
        facts = self.facts(base_image)
        uv: Path | None = None
        if facts.conda_tool:
            unhonoured = plan.unhonoured_with_conda()
            enforce(unhonoured, strict=strict, target=target, source=plan.source, warn=say)
            route = facts.conda_tool
            script = conda_script(facts.conda_tool)
        else:
            unhonoured = plan.unhonoured_in_venv(facts.python_version)
            enforce(unhonoured, strict=strict, target=target, source=plan.source, warn=say)
            if facts.python_version is None:
                where = compute_file or "the .compute file"
                raise TargetError(f"base image '{base_image}' has neither conda nor Python: "
                                  f"change baseDockerImage in {where}")
            route = installer
            script = venv_script(installer)
            uv = self._shippable_uv() if installer == "uv" else None
        say(f"building environment {identity} on {base_image} with {route}")
        requirements, environment = plan.venv_requirements, plan.conda_environment
        if plan.specs.get("framework") == "pyspark":      # spark-submit and a JRE in the image
            script = java_script() + script
            requirements, environment = _with_pyspark(requirements, environment)
        files = {
            "build.sh": script.encode(),
            "environment.yml": json.dumps(environment, indent=1).encode(),
            "requirements.txt": "".join(f"{r}\n" for r in requirements).encode(),
            "guessed.txt": "".join(f"{r}\n" for r in plan.guessed.values()).encode(),
        }
        env = {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_ROOT_USER_ACTION": "ignore",
               "PYTHONDONTWRITEBYTECODE": "1", "UV_LINK_MODE": "copy", "UV_NO_PROGRESS": "1"}
        if self.ca_bundle is not None:
            files["ca.pem"] = self.ca_bundle.read_bytes()
            ca = f"{BUILD_DIR}/ca.pem"
            env.update(SSL_CERT_FILE=ca, PIP_CERT=ca, REQUESTS_CA_BUNDLE=ca)
        if uv is not None:
            files["uv-bin/uv"] = uv.read_bytes()
        options = ["--label", f"{LABEL}build={identity}", "--workdir", "/"]
        if self.network:
            options += ["--network", self.network]
        if use_cache and self.cache_volume:
            options += ["--volume", f"{self.cache_volume}:{CACHE_MOUNT}"]
            env.update(PIP_CACHE_DIR=f"{CACHE_MOUNT}/pip", UV_CACHE_DIR=f"{CACHE_MOUNT}/uv",
                       AML_CACHE=CACHE_MOUNT)
        else:
            env.update(PIP_NO_CACHE_DIR="1", UV_NO_CACHE="1")
        for key, value in env.items():
            options += ["--env", f"{key}={value}"]
        container = self.engine.create(options, base.id, ["sh", f"{BUILD_DIR}/build.sh"])
        try:
            self.engine.copy_in(container, _tar_of(files, BUILD_DIR))
            lines: list[str] = []

            def line(text: str) -> None:
                lines.append(text.rstrip("\r"))
                say(text.rstrip("\r"))

            code = self.engine.start_streaming(container, line, timeout=timeout)
            if code != 0:
                tail = "\n".join(lines[-15:])
                if "no space left on device" in tail.lower():
                    raise TargetError(f"target '{target}': the disk of {self.engine.machine} "
                                      "is full (building the environment); free space there "
                                      "(docker system prune) and prepare again")
                raise TargetError(f"building the environment for target '{target}' on "
                                  f"'{base_image}' failed (exit {code}); last output:\n{tail}")
            guessed_failed = [Unhonoured(spec, "not found on PyPI")
                              for spec, req in plan.guessed.items()
                              if f"{UNHONOURED_MARK}{req}" in lines]
            if guessed_failed:
                enforce(guessed_failed, strict=strict, target=target, source=plan.source,
                        warn=say)
                unhonoured += guessed_failed
            used = installer_used(lines, route)
            labels = {
                f"{LABEL}identity": identity, f"{LABEL}base-image": base_image,
                f"{LABEL}base-image-id": base.id, f"{LABEL}installer": used,
                f"{LABEL}python": ENV_PYTHON,
                f"{LABEL}specs": json.dumps(plan.specs, sort_keys=True),
                f"{LABEL}unhonoured": json.dumps([str(u) for u in unhonoured]),
            }
            changes = [f"LABEL {key}={dockerfile_quote(value)}" for key, value in labels.items()]
            changes += ['CMD ["/bin/bash"]', "WORKDIR /",
                        (f"ENV PATH={ENV_PREFIX}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:"
                         "/usr/bin:/sbin:/bin"), f"ENV VIRTUAL_ENV={ENV_PREFIX}"]
            self.engine.commit(container, self.image_tag(identity), changes)
        finally:
            self.engine.remove(container)
        seconds = time.monotonic() - started
        say(f"environment {identity} built with {used} in {seconds:.1f}s")
        return BuildResult(self.image_tag(identity), identity, used, seconds, unhonoured)

    def _shippable_uv(self) -> Path | None:
        """The client's own uv binary, when the engine runs the same architecture: shipping it
        spares each cold build a download from PyPI. The build checks that it runs there."""
        if self._uv is False:
            self._uv = None
            if self.ship_uv and _same_arch(self.engine.architecture(), platform.machine()):
                self._uv = local_uv_binary()
        return self._uv if isinstance(self._uv, Path) else None


def _with_pyspark(requirements: list[str],
                  environment: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """The requirements (venv) and environment file (conda) plus ``pyspark`` unless named."""
    if any(r.strip().lower().startswith("pyspark") for r in requirements):
        return requirements, environment
    deps = [d for d in environment.get("dependencies", []) if not isinstance(d, dict)]
    pips = [d["pip"] for d in environment.get("dependencies", []) if isinstance(d, dict)]
    deps.append({"pip": [*(pips[0] if pips else []), "pyspark"]})
    return [*requirements, "pyspark"], {**environment, "dependencies": deps}


def _tar_of(files: dict[str, bytes], directory: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(directory.strip("/"))
        info.type, info.mode = tarfile.DIRTYPE, 0o700
        tar.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(f"{directory.strip('/')}/{name}")
            info.size, info.mode = len(data), 0o700 if name.endswith("/uv") else 0o600
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _same_arch(engine: str, client: str) -> bool:
    aliases = {"amd64": "x86_64", "arm64": "aarch64"}
    return bool(engine) and aliases.get(engine, engine) == aliases.get(client, client)


def _default_ca_bundle() -> Path | None:
    """The client's CA bundle, when one is configured: builds then trust what the client trusts
    (corporate or sandbox TLS proxies). It lives only in the build folder, never in the image."""
    for var in CA_ENV_VARS:
        value = os.environ.get(var)
        if value and Path(value).is_file():
            return Path(value)
    return None


__all__ = [
    "ENV_PREFIX",
    "ENV_PYTHON",
    "ENV_REPOSITORY",
    "BuildResult",
    "DockerEnvironmentBuilder",
    "ImageFacts",
]
