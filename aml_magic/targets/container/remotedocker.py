"""The ``remotedocker`` target: remote placement x container launch.

The project reaches the VM through the content-addressed sync of the ``remote`` target; the
environment image is built on the VM's engine and each run runs in a container there. The
engine is driven with the VM's ``docker`` command through the pinned SSH connection (never a
Docker client with a host-key policy of its own); ``dockerHost`` in the ``.compute`` points it
at another socket (``docker -H``), e.g. a rootless engine. The SSH user needs access to the
engine: on the VM, ``sudo usermod -aG docker USER``.
"""
from __future__ import annotations

from typing import Any, Callable

from aml_magic.targets.base import AgentTarget
from aml_magic.targets.container.launch import ContainerLaunch
from aml_magic.targets.ssh.placement import RemotePlacement
from aml_magic.targets.ssh.login import configure_ssh_attach
from aml_magic.targets.container.engine import DockerCli


class RemoteDockerTarget(AgentTarget):
    type_name = "remotedocker"
    builds_environments = True
    placement_class = RemotePlacement
    launch_class = ContainerLaunch

    @classmethod
    def configure_attach(cls, compute: Any, *, secrets: Any, created_refs: list[str],
                         on_message: Callable[[str], None] | None = None,
                         **options: Any) -> None:
        """As for ``remote``; the login check also asks the VM's engine, so that a VM without
        Docker or a user without access to it is said at attach time."""

        def check_engine(transport: Any) -> None:
            engine = DockerCli(transport, host=compute.docker_host or None, where=compute.name,
                               machine=str(compute.address), user=compute.username)
            engine.run("version", "--format", "{{.Server.Version}}", timeout=60)

        configure_ssh_attach(compute, secrets=secrets, created_refs=created_refs,
                             on_message=on_message, check_login=check_engine, **options)


__all__ = ["RemoteDockerTarget"]
