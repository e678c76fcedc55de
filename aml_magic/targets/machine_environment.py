"""A Python environment built from ``conda_dependencies.yml`` on the machine a transport reaches:
a remote target's machine over SSH (``ssh/environment.py``) or this one (``process/
managed_env.py``), both with ``userManagedEnvironment: false``.

Same plan, identity and warnings as the container targets (``domain/environment.py``) and the
same build script (``env_build_scripts.venv_script``). The environment lives in
``<base>/envs/<identity>/`` and is complete once its marker ``.aml-env.json`` exists, so a cached
prepare is one read: nothing is rebuilt until the specification (or the base interpreter)
changes. Imported only when an environment is prepared or a managed run starts.
"""
from __future__ import annotations

import io
import json
import tarfile
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Literal

from aml_magic.domain.environment import Unhonoured, enforce, plan_environment
from aml_magic.errors import EnvironmentNotPrepared, TargetError
from aml_magic.targets.base import join
from aml_magic.targets.env_build_scripts import (
    UNHONOURED_MARK,
    conda_script,
    installer_used,
    venv_script,
)

if TYPE_CHECKING:
    from aml_magic.domain.config import RunConfiguration
    from aml_magic.targets.base import Dependencies, ProgressCallback
    from aml_magic.transports.base import Transport

MARKER = ".aml-env.json"
_PROBE = ("for t in micromamba mamba conda; do command -v $t && break; done; echo '--'; "
          '"$1" -c \'import sys; print("%d.%d.%d" % sys.version_info[:3])\' || true')


@dataclass
class MachineEnvironment:
    identity: str
    python: str                      # the environment's interpreter on the machine
    installer: str
    built: bool
    unhonoured: list[str]


@dataclass
class BuildPlace:
    """Where and with what an environment is built. ``installer``: ``auto`` uses conda/mamba/
    micromamba when the machine has one, else a venv filled by pip (a remote machine);
    ``uv`` always makes a venv filled by uv, the binary ``uv`` on the machine (this machine)."""
    transport: Transport
    base: str                        # folder holding envs/<identity>/, absolute
    base_python: str                 # the interpreter the venv is made from
    target: str                      # the compute target's name, for messages
    where: str                       # the machine, for messages
    compute_file: str
    installer: Literal["auto", "uv"] = "auto"
    uv: str | None = None            # a uv binary on the machine (else uv comes from PyPI)
    cache: str | None = None         # where the build keeps uv when it had to fetch it


def machine_environment(place: BuildPlace, runconfig: RunConfiguration,
                        dependencies: Dependencies, *, build: bool,
                        on_progress: ProgressCallback | None = None,
                        strict: bool = False) -> MachineEnvironment:
    """The environment for ``runconfig`` at ``place``, built when missing and ``build`` (else
    ``EnvironmentNotPrepared`` saying how to prepare)."""
    say = on_progress or (lambda _line: None)
    plan = plan_environment(dependencies.conda, base_image=f"python:{place.base_python}",
                            framework=getattr(runconfig, "framework", "Python"))
    transport = place.transport
    prefix = join(place.base, "envs", plan.identity)
    marker = transport.read_file(join(prefix, MARKER))
    if marker:
        facts = json.loads(marker)
        return MachineEnvironment(plan.identity, join(prefix, "bin", "python"),
                                  str(facts.get("installer", "?")), False,
                                  list(facts.get("unhonoured", [])))
    name = getattr(runconfig, "name", None) or "NAME"
    if not build:
        raise EnvironmentNotPrepared(
            f"the environment of run configuration '{name}' on '{place.target}' "
            f"({plan.identity}) is not prepared and PrepareEnvironment is false: run `aml "
            f"experiment prepare -c {name}` (or %aml_prepare -c {name}) first")
    started = time.monotonic()
    probe = transport.run(["sh", "-c", _PROBE, "sh", place.base_python], timeout=60,
                          check=False)
    tools, _, version = probe.stdout.decode("utf-8", "replace").partition("--")
    conda_tool = (tools.strip().splitlines()[-1].rsplit("/", 1)[-1]
                  if tools.strip() and place.installer == "auto" else None)
    python_version = version.strip().splitlines()[-1] if version.strip() else None
    build_dir = f"{prefix}.build"
    if conda_tool:
        unhonoured = plan.unhonoured_with_conda()
        script = conda_script(conda_tool, build_dir=build_dir, prefix=prefix)
    else:
        if python_version is None:
            raise TargetError(f"target '{place.target}': Python '{place.base_python}' was not "
                              f"found on {place.where}; set pythonLocation in "
                              f"{place.compute_file}")
        unhonoured = plan.unhonoured_in_venv(python_version)
        script = venv_script("uv" if place.installer == "uv" else "pip", build_dir=build_dir,
                             prefix=prefix, python=place.base_python)
    enforce(unhonoured, strict=strict, target=place.target, source=plan.source, warn=say)
    say(f"building environment {plan.identity} on {place.where} with "
        f"{conda_tool or 'a venv of ' + place.base_python}")
    files = {"build.sh": script.encode(),
             "environment.yml": json.dumps(plan.conda_environment, indent=1).encode(),
             "requirements.txt": "".join(f"{r}\n" for r in plan.venv_requirements).encode(),
             "guessed.txt": "".join(f"{r}\n" for r in plan.guessed.values()).encode()}
    transport.run(["rm", "-rf", "--", prefix, build_dir], timeout=120)
    transport.put_tar(lambda out: _write_tar(files, out), build_dir)
    if place.uv:                     # the script takes <build>/uv-bin/uv when it runs
        transport.run(["sh", "-c", 'mkdir -p "$1/uv-bin" && ln -s "$2" "$1/uv-bin/uv"', "sh",
                       build_dir, place.uv], timeout=30)
    lines: list[str] = []

    def line(text: str) -> None:
        lines.append(text)
        say(text)

    cache = [f"AML_CACHE={place.cache}"] if place.cache else []
    code = transport.stream(["env", "PIP_DISABLE_PIP_VERSION_CHECK=1", "PYTHONDONTWRITEBYTECODE=1",
                             *cache, "sh", join(build_dir, "build.sh")], on_line=line)
    if code != 0:
        transport.run(["rm", "-rf", "--", prefix, build_dir], timeout=120, check=False)
        tail = "\n".join(lines[-15:])
        full = "no space left on device" in tail.lower()
        raise TargetError(f"target '{place.target}': " + (
            f"the disk of {place.where} is full; free space there and prepare again"
            if full else f"building the environment failed (exit {code}); last output:\n{tail}"))
    guessed = [Unhonoured(spec, "not found on PyPI") for spec, req in plan.guessed.items()
               if f"{UNHONOURED_MARK}{req}" in lines]
    enforce(guessed, strict=strict, target=place.target, source=plan.source, warn=say)
    installer = installer_used(lines, conda_tool or "pip")
    record = {"identity": plan.identity, "installer": installer, "specs": plan.specs,
              "unhonoured": [str(u) for u in [*unhonoured, *guessed]],
              "seconds": round(time.monotonic() - started, 1)}
    transport.write_file(join(prefix, MARKER), json.dumps(record).encode())
    return MachineEnvironment(plan.identity, join(prefix, "bin", "python"), installer, True,
                              record["unhonoured"])  # type: ignore[arg-type]


def _write_tar(files: dict[str, bytes], out: BinaryIO) -> None:
    with tarfile.open(fileobj=out, mode="w|") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o600
            tar.addfile(info, io.BytesIO(data))


__all__ = ["MARKER", "BuildPlace", "MachineEnvironment", "machine_environment"]
