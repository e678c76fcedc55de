"""The ``remote`` target: remote placement (SSH, content-addressed store) x process launch.
The script runs under the machine's own Python (``pythonLocation``, default ``python3``) when the
environment is user-managed (the default at attach), else under the environment ``prepare``
builds on the machine (``remote_env``). Sync and launch are one SSH command."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from aml_magic.targets.base import AgentTarget, Dependencies, LaunchRequest, ProgressCallback
from aml_magic.targets.own_environment import OwnEnvironment
from aml_magic.targets.process.launch import ProcessLaunch
from aml_magic.targets.ssh.placement import DEFAULT_BASE_DIR, RemotePlacement
from aml_magic.targets.ssh.login import configure_ssh_attach
from aml_magic.targets.ssh.environment import RemoteEnvironment, remote_environment

if TYPE_CHECKING:
    from aml_magic.domain.config import RunConfiguration


class RemoteTarget(OwnEnvironment, AgentTarget):
    type_name = "remote"
    placement_class = RemotePlacement
    launch_class = ProcessLaunch

    @classmethod
    def configure_attach(cls, compute: Any, *, secrets: Any, created_refs: list[str],
                         on_message: Callable[[str], None] | None = None,
                         **options: Any) -> None:
        """Pin the host key, store the login secret, check the login (see ``sshlogin``)."""
        configure_ssh_attach(compute, secrets=secrets, created_refs=created_refs,
                             on_message=on_message, **options)

    def own_environment(self, runconfig: RunConfiguration, dependencies: Dependencies, *,
                        build: bool, on_progress: ProgressCallback | None = None,
                        strict: bool = False) -> RemoteEnvironment:
        return remote_environment(self, runconfig, dependencies, build=build,
                                  on_progress=on_progress, strict=strict)

    def process_python(self) -> str:
        return "python"             # the helper puts the machine's resolved interpreter here

    def process_argv(self, request: LaunchRequest, python: str) -> list[str]:
        """The script under the machine's Python, or for ``Framework: PySpark`` under the
        machine's ``spark-submit`` (``sparkSubmitLocation``) in local mode, its Python
        workers being the target's interpreter."""
        if getattr(request.runconfig, "framework", "Python") != "PySpark":
            return self.script_argv(request, python)
        spark = str(self.compute.spark_submit_location or "spark-submit")
        if spark.startswith("~/"):
            spark = self.transport.home() + spark[1:]
        return self.script_argv(request, self.placement.python(), spark_submit=spark)


__all__ = ["DEFAULT_BASE_DIR", "RemoteTarget"]
