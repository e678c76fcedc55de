"""The ``local`` target: the run's copy of the project under ``.aml/runs/<id>/work`` on this
machine, the script run by ``pythonLocation`` under the detached agent."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError, TargetError
from ..transports.local import LocalTransport
from .base import AgentTarget, LaunchRequest


class LocalTarget(AgentTarget):
    type_name = "local"
    run_folder_is_local = True

    def _make_transport(self) -> LocalTransport:
        return LocalTransport()

    def check(self, runconfig: Any) -> None:
        if getattr(runconfig, "framework", "Python") == "PySpark":
            spark = self.compute.spark_submit_location or "spark-submit"
            if not shutil.which(spark):
                raise ConfigError(
                    f"run configuration '{runconfig.name}' uses Framework: PySpark, but "
                    f"spark-submit ('{spark}') was not found on this machine: set "
                    f"sparkSubmitLocation in {self.compute.name}.compute, or set "
                    "Framework: Python in the run configuration",
                    path=str(runconfig.path) if runconfig.path else None)
            raise TargetError(
                f"run configuration '{runconfig.name}': PySpark runs on the local target are "
                "not supported yet; set Framework: Python")
        self._python()

    def _run_dir(self, request: LaunchRequest) -> str:
        return str(request.run_folder)

    def _python(self) -> str:
        configured = self.compute.python_location
        if not configured:
            return sys.executable
        found = shutil.which(os.path.expanduser(configured))
        if not found:
            raise TargetError(f"{self.compute.name}.compute: pythonLocation '{configured}' was "
                              "not found on this machine; fix pythonLocation or remove it to use "
                              f"{sys.executable}")
        return found

    def _sync_snapshot(self, request: LaunchRequest, run_dir: str) -> None:
        from ..snapshot import materialize
        materialize(request.manifest, request.project_root, Path(run_dir) / "work")

    def collect_outputs(self, target_state: dict[str, Any], dest: Path) -> list[str]:
        from ..transports.local import copy_tree_safely
        return copy_tree_safely(Path(target_state["run_dir"]) / "work" / "outputs", dest)

    def agent_alive(self, target_state: dict[str, Any]) -> bool | None:
        pid = target_state.get("agent_pid")
        if not pid:
            return None
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return _not_zombie(int(pid))

    def cancel(self, target_state: dict[str, Any]) -> None:
        run_dir = Path(target_state["run_dir"])
        (run_dir / "cancel").write_bytes(b"cancel\n")
        pid = target_state.get("agent_pid")
        if pid:
            try:
                os.kill(int(pid), 15)
            except (ProcessLookupError, PermissionError):
                pass


def _not_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True
