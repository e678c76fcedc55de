"""The ``local`` target: the run's copy of the project under ``.aml/runs/<id>/work`` on this
machine, the script run by ``pythonLocation`` under the detached agent."""
from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .. import runfolder
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
            self._spark_submit(runconfig)
        self._python()

    def _spark_submit(self, runconfig: Any) -> str:
        spark = os.path.expanduser(self.compute.spark_submit_location or "spark-submit")
        found = shutil.which(spark)
        if not found:
            raise ConfigError(
                f"run configuration '{runconfig.name}' uses Framework: PySpark, but spark-submit "
                f"('{spark}') was not found on this machine: install Spark (pip install pyspark) "
                f"or set sparkSubmitLocation in {self.compute.name}.compute, or set "
                "Framework: Python in the run configuration",
                path=str(runconfig.path) if runconfig.path else None)
        return found

    def _argv(self, request: LaunchRequest, python: str) -> list[str]:
        rc = request.runconfig
        if getattr(rc, "framework", "Python") != "PySpark":
            return [python, *request.command]
        from ..config import ProjectConfig
        from .spark import spark_submit_argv
        deps = ProjectConfig(request.project_root).spark_dependencies(rc)
        return spark_submit_argv(self._spark_submit(rc), deps, request.command,
                                 master="local[*]", python=python)

    def submit(self, request: LaunchRequest) -> dict[str, Any]:
        """As ``AgentTarget.submit``, but the launcher's interpreter starts while the snapshot
        is copied: it waits for its spec on stdin, so the two overlap."""
        from ..agent import launch_command
        from ..transports.base import CommandResult
        run_dir = self._run_dir(request)
        python = self._python()
        try:
            proc = subprocess.Popen(launch_command(python, self._agent_dir(), run_dir),
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
        except OSError as exc:
            raise TargetError(f"{self.compute.name}: cannot start {python}: {exc.strerror}") \
                from None
        try:
            self._sync_snapshot(request, run_dir)
            spec = self._launch_spec(request, run_dir, python)
        except BaseException:
            proc.kill()
            proc.communicate()
            raise
        try:
            out, err = proc.communicate(spec, timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise TargetError(f"{self.compute.name}: the run agent did not start within 60 s") \
                from None
        return self._launched(CommandResult(proc.returncode, out, err), run_dir, python)

    def _agent_dir(self) -> str:
        from ..agent import AGENT_DIR
        return str(AGENT_DIR)           # this machine already has it: nothing to ship

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
        return runfolder.copy_tree_nofollow(target_state["run_dir"], "work/outputs",
                                            dest.parent, dest.name).refused

    def agent_alive(self, target_state: dict[str, Any]) -> bool | None:
        return runfolder.local_alive(target_state)

    def wait_for_change(self, target_state: dict[str, Any], timeout: float) -> None:
        """Wake as soon as the agent exits (it exits right after writing the end state)."""
        pid = target_state.get("agent_pid")
        try:
            fd = os.pidfd_open(int(pid))  # type: ignore[arg-type]
        except (AttributeError, OSError, TypeError, ValueError):
            time.sleep(min(timeout, 0.01))
            return
        try:
            select.select([fd], [], [], timeout)
        finally:
            os.close(fd)

    def kill_group(self, target_state: dict[str, Any]) -> None:
        runfolder.local_kill_session(target_state)

    def cancel(self, target_state: dict[str, Any]) -> None:
        runfolder.write_marker(target_state["run_dir"], "cancel", b"cancel\n")
        runfolder.local_signal_agent(target_state)
