"""The ``remote`` target: remote placement (SSH, content-addressed store) x process launch.
The script runs under the machine's own Python (``pythonLocation``, default ``python3``): the
environment is user-managed. Sync and launch are one SSH command (see ``placement_remote``)."""
from __future__ import annotations

from typing import Any, Callable

from ..errors import TargetError
from .base import AgentTarget
from .launch_process import ProcessLaunch
from .placement_remote import DEFAULT_BASE_DIR, RemotePlacement
from .sshlogin import configure_ssh_attach


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

    def check(self, runconfig: Any) -> None:
        if getattr(runconfig, "framework", "Python") == "PySpark":
            raise TargetError(f"run configuration '{runconfig.name}': PySpark runs on remote "
                              "targets are not supported yet; set Framework: Python")
        super().check(runconfig)

    def process_python(self) -> str:
        return "python"             # the helper puts the machine's resolved interpreter here


__all__ = ["DEFAULT_BASE_DIR", "RemoteTarget"]
