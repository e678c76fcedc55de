"""``prepare`` and ``submit`` of a process target whose ``userManagedEnvironment: false`` asks
for an environment built on its machine (``machine_environment``): ``remote`` and ``local``.
Light on purpose: the local target imports it on every submit, the build code only when an
environment is needed."""
from __future__ import annotations

from aml_magic.domain.runfolder.build_log import BuildLog
from aml_magic.targets.base import PrepareResult

TYPE_CHECKING = False
if TYPE_CHECKING:
    from aml_magic.domain.config import ComputeTarget, RunConfiguration
    from aml_magic.targets.base import Dependencies, LaunchRequest, Launched, ProgressCallback
    from aml_magic.targets.machine_environment import MachineEnvironment
    from aml_magic.targets.placement import Placement


class OwnEnvironment:
    """``prepare`` and ``submit`` of a process target (``local``, ``remote``) whose
    ``userManagedEnvironment: false`` asks for an environment built on its machine; a subclass
    of ``AgentTarget`` says where (``own_environment``). User-managed, both are the base's."""

    compute: ComputeTarget
    placement: Placement

    @property
    def builds_own_environment(self) -> bool:
        return self.compute.user_managed_environment is False

    def own_environment(self, runconfig: RunConfiguration, dependencies: Dependencies, *,
                        build: bool, on_progress: ProgressCallback | None = None,
                        strict: bool = False) -> MachineEnvironment:
        raise NotImplementedError

    def prepare(self, runconfig: RunConfiguration, *,
                on_progress: ProgressCallback | None = None,
                build: bool = True, strict: bool = False,
                dependencies: Dependencies | None = None) -> PrepareResult:
        if not self.builds_own_environment:
            return super().prepare(runconfig, on_progress=on_progress,  # type: ignore[misc]
                                   build=build, strict=strict, dependencies=dependencies)
        if dependencies is None:
            raise TypeError("prepare needs the run configuration's dependencies "
                            "(Workspace.dependencies(runconfig))")
        env = self.own_environment(runconfig, dependencies, build=build,
                                   on_progress=on_progress, strict=strict)
        how = f"built with {env.installer}" if env.built else "reused"
        return PrepareResult(env.built, f"environment {env.identity} {how} ({env.python} on "
                                        f"{self.placement.where()})",
                             environment_hash=env.identity)

    def submit(self, request: LaunchRequest) -> Launched:
        if not self.builds_own_environment:
            return super().submit(request)              # type: ignore[misc]
        rc = request.runconfig
        with BuildLog(request.run_folder, request.on_progress) as on_build:   # kept with the run
            env = self.own_environment(rc, request.dependencies,
                                       build=bool(getattr(rc, "prepare_environment", False)),
                                       on_progress=on_build)
        request.environment_hash = env.identity
        self.placement.interpreter = env.python
        try:
            return super().submit(request)              # type: ignore[misc]
        finally:
            self.placement.interpreter = None


__all__ = ["OwnEnvironment"]
