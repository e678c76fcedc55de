"""The ``remote`` target: remote placement (SSH, content-addressed store) x process launch.
The script runs under the machine's own Python (``pythonLocation``, default ``python3``) when the
environment is user-managed (the default at attach), else under the environment ``prepare``
builds on the machine (``remote_env``). Sync and launch are one SSH command."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from aml_magic.targets.base import (
    AgentTarget,
    Dependencies,
    Launched,
    LaunchRequest,
    PrepareResult,
    ProgressCallback,
)
from aml_magic.targets.process.launch import ProcessLaunch
from aml_magic.targets.ssh.placement import DEFAULT_BASE_DIR, RemotePlacement
from aml_magic.targets.ssh.login import configure_ssh_attach
from aml_magic.domain.runfolder.build_log import BuildLog
from aml_magic.targets.ssh.environment import remote_environment

if TYPE_CHECKING:
    from aml_magic.domain.config import RunConfiguration


class RemoteTarget(AgentTarget):
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

    @property
    def builds_own_environment(self) -> bool:
        return self.compute.user_managed_environment is False

    def prepare(self, runconfig: RunConfiguration, *,
                on_progress: ProgressCallback | None = None,
                build: bool = True, strict: bool = False,
                dependencies: Dependencies | None = None) -> PrepareResult:
        if not self.builds_own_environment:
            return super().prepare(runconfig, on_progress=on_progress, build=build,
                                   strict=strict, dependencies=dependencies)
        if dependencies is None:
            raise TypeError("prepare needs the run configuration's dependencies "
                            "(Workspace.dependencies(runconfig))")
        env = remote_environment(self, runconfig, dependencies,
                                 build=build, on_progress=on_progress, strict=strict)
        how = f"built with {env.installer}" if env.built else "reused"
        return PrepareResult(env.built, f"environment {env.identity} {how} ({env.python} on "
                                        f"{self.compute.address})", environment_hash=env.identity)

    def submit(self, request: LaunchRequest) -> Launched:
        if not self.builds_own_environment:
            return super().submit(request)
        rc = request.runconfig
        with BuildLog(request.run_folder, request.on_progress) as on_build:   # kept with the run
            env = remote_environment(self, rc, request.dependencies,
                                     build=bool(getattr(rc, "prepare_environment", False)),
                                     on_progress=on_build)
        request.environment_hash = env.identity
        self.placement.interpreter = env.python       # type: ignore[attr-defined]
        try:
            return super().submit(request)
        finally:
            self.placement.interpreter = None         # type: ignore[attr-defined]

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
