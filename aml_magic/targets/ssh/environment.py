"""A remote target's own Python environment (``userManagedEnvironment: false``).

``prepare`` builds it on the machine from ``conda_dependencies.yml`` (``machine_environment``:
the container targets' plan, identity and warnings): conda/mamba/micromamba when the machine
has one, else a venv of ``pythonLocation`` filled by pip. It lives in
``<base>/envs/<identity>/`` and is complete once its marker ``.aml-env.json`` exists, so a
cached prepare is one SFTP read. Runs then start the agent (and the script) with its Python.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from aml_magic.targets.machine_environment import (
    MARKER,
    BuildPlace,
    MachineEnvironment,
    machine_environment,
)

if TYPE_CHECKING:
    from aml_magic.domain.config import RunConfiguration
    from aml_magic.targets.base import AgentTarget, Dependencies, ProgressCallback

#: A remote machine's environment (the name the remote and cluster targets use).
RemoteEnvironment = MachineEnvironment


def remote_environment(target: AgentTarget, runconfig: RunConfiguration, dependencies: Dependencies, *,
                       build: bool, on_progress: ProgressCallback | None = None,
                       strict: bool = False) -> RemoteEnvironment:
    """The environment for ``runconfig`` on the target's machine, built when missing and
    ``build`` (else ``EnvironmentNotPrepared`` saying how to prepare)."""
    transport = target.transport
    base = target.placement.base_dir()                      # type: ignore[attr-defined]
    if base == "~" or base.startswith("~/"):
        base = transport.home() + base[1:]
    place = BuildPlace(transport, base, str(target.compute.python_location or "python3"),
                       target.compute.name, str(target.compute.address),
                       target.compute_file())
    return machine_environment(place, runconfig, dependencies, build=build,
                               on_progress=on_progress, strict=strict)


__all__ = ["MARKER", "RemoteEnvironment", "remote_environment"]
