"""The ``docker`` target (files also say ``localdocker``): local placement x container launch.

The run folder stays the history's run folder, as on the local target; each run runs in its own
container of the prepared environment image on this machine's engine (``DOCKER_HOST`` is
honoured by the ``docker`` command). See ``launch_container`` for what a container may touch.
"""
from __future__ import annotations

from aml_magic.targets.base import AgentTarget
from aml_magic.targets.container.launch import (
    AGENT_MOUNT,
    PROJECT_MOUNT,
    RUN_MOUNT,
    SHARE_MOUNT,
    ContainerLaunch,
)
from aml_magic.targets.placement import LocalPlacement


class DockerTarget(AgentTarget):
    """Runs in containers of the environment image built from ``conda_dependencies.yml``."""

    type_name = "docker"
    builds_environments = True
    placement_class = LocalPlacement
    launch_class = ContainerLaunch


__all__ = ["AGENT_MOUNT", "PROJECT_MOUNT", "RUN_MOUNT", "SHARE_MOUNT", "DockerTarget"]
