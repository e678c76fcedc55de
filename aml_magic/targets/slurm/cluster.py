"""The ``slurm`` target: remote placement (SSH to the login node, content-addressed sync to
``remoteBaseDirectory``, which must be a filesystem the compute nodes share) x the sbatch
launch (``slurm/launch.py``): one ``sbatch`` per run, one job array per sweep, the agent
inside the allocation.

Environments are the remote target's: user-managed (``pythonLocation`` as it resolves on the
nodes, the default) or, with ``userManagedEnvironment: false``, the uv venv ``prepare`` builds
on the login node under ``remoteBaseDirectory/envs/`` that every job reuses.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from aml_magic.domain.runfolder.build_log import BuildLog
from aml_magic.errors import TargetError
from aml_magic.targets.base import LaunchRequest
from aml_magic.targets.slurm.launch import SbatchLaunch
from aml_magic.targets.slurm.probe import check_slurm
from aml_magic.targets.ssh.environment import remote_environment
from aml_magic.targets.ssh.login import configure_ssh_attach
from aml_magic.targets.ssh.remote import RemoteTarget

if TYPE_CHECKING:
    from aml_magic.targets.base import Launched

class SlurmTarget(RemoteTarget):
    type_name = "slurm"
    launch_class = SbatchLaunch  # type: ignore[assignment]  # a remote target, another launch

    @classmethod
    def configure_attach(cls, compute: Any, *, secrets: Any, created_refs: list[str],
                         on_message: Callable[[str], None] | None = None,
                         **options: Any) -> None:
        """As for ``remote``; the login check also asks for sbatch, squeue, scancel and the
        partition (``sinfo``)."""
        configure_ssh_attach(compute, secrets=secrets, created_refs=created_refs,
                             on_message=on_message,
                             check_login=lambda transport: check_slurm(transport, compute),
                             **options)

    def process_python(self) -> str:
        """The interpreter itself: the agent starts inside the job, not through the helper."""
        return self.placement.python()

    def submit_array(self, requests: list[LaunchRequest], *, name: str,
                     limit: int | None) -> list[Launched]:
        """A sweep's children as ONE job array (see ``SbatchLaunch.submit_array``), in the
        environment of a single submit."""
        launch = self.launch
        if not isinstance(launch, SbatchLaunch):
            raise TargetError(f"target '{self.compute.name}' cannot submit job arrays")
        if not self.builds_own_environment:
            return launch.submit_array(self, requests, name=name, limit=limit)
        first = requests[0]
        with BuildLog(first.run_folder, first.on_progress) as on_build:
            env = remote_environment(self, first.runconfig, first.dependencies,
                                     build=bool(getattr(first.runconfig, "prepare_environment",
                                                        False)), on_progress=on_build)
        for request in requests:
            request.environment_hash = env.identity
        self.placement.interpreter = env.python
        try:
            return launch.submit_array(self, requests, name=name, limit=limit)
        finally:
            self.placement.interpreter = None

    def cancel_array(self, array_id: str, run_dirs: list[str]) -> None:
        """``scancel`` the whole array (a canceled sweep); the tasks' unread launch specs go."""
        launch = self.launch
        if isinstance(launch, SbatchLaunch):
            launch.cancel_array(self, array_id, run_dirs)


__all__ = ["SlurmTarget"]
