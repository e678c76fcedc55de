"""The ``local`` target: local placement x process launch. The run's copy of the project is
``.aml/runs/<id>/work`` on this machine, the script run by ``pythonLocation`` (or the
environment built from ``conda_dependencies.yml`` with ``userManagedEnvironment: false``; or, for
``Framework: PySpark``, by ``sparkSubmitLocation``, else the ``spark-submit`` on PATH, else the
one of the ``pyspark`` package installed beside aml_magic) under the detached agent."""
from __future__ import annotations

import os
import sys

from aml_magic.errors import AmlError, ConfigError
from aml_magic.targets.base import AgentTarget, LaunchRequest, describe_python
from aml_magic.targets.own_environment import OwnEnvironment
from aml_magic.targets.process.launch import ProcessLaunch
from aml_magic.targets.placement import LocalPlacement

TYPE_CHECKING = False
if TYPE_CHECKING:
    from aml_magic.domain.config import RunConfiguration
    from aml_magic.targets.base import Dependencies, ProgressCallback
    from aml_magic.targets.machine_environment import MachineEnvironment


class LocalTarget(OwnEnvironment, AgentTarget):
    """User-managed (the default): scripts run with ``pythonLocation``'s interpreter as it is.
    ``userManagedEnvironment: false``: with a venv built from ``conda_dependencies.yml``
    (``managed_env``)."""
    type_name = "local"
    placement: LocalPlacement
    placement_class = LocalPlacement
    launch_class = ProcessLaunch

    def own_environment(self, runconfig: RunConfiguration, dependencies: Dependencies, *,
                        build: bool, on_progress: ProgressCallback | None = None,
                        strict: bool = False) -> MachineEnvironment:
        from aml_magic.targets.process.managed_env import local_environment
        return local_environment(self, runconfig, dependencies, build=build,
                                 on_progress=on_progress, strict=strict)

    def planned_python(self, runconfig: RunConfiguration,
                       dependencies: Dependencies) -> str | None:
        """The interpreter a run of ``runconfig`` will use, as ``history info`` shows it, found
        without starting anything (a submit's first line): this process's own (path, resolved
        path, version), another ``pythonLocation``'s path, or the managed environment's."""
        if self.builds_own_environment:
            try:
                return self.own_environment(runconfig, dependencies, build=False).python
            except AmlError:
                return None             # not prepared: the submit says so
        python = self.placement.base_python()
        if python != sys.executable:
            return python
        return describe_python({"executable": python, "resolved": os.path.realpath(python),
                                "version": "%d.%d.%d" % sys.version_info[:3]})

    def check(self, runconfig: RunConfiguration) -> None:
        if getattr(runconfig, "framework", "Python") == "PySpark":
            self._spark_submit(runconfig)
        self.placement.python()

    def _spark_submit(self, runconfig: RunConfiguration) -> str:
        spark = os.path.expanduser(self.compute.spark_submit_location or "spark-submit")
        import shutil  # PySpark runs only: shutil (with bz2, lzma) stays off the submit path
        found = shutil.which(spark) or (package_spark_submit() if spark == "spark-submit"
                                        else None)
        if not found:
            raise ConfigError(
                f"run configuration '{runconfig.name}' uses Framework: PySpark, but spark-submit "
                f"('{spark}') was not found on this machine: install Spark (pip install pyspark) "
                f"or set sparkSubmitLocation in {self.compute.name}.compute, or set "
                "Framework: Python in the run configuration",
                path=str(runconfig.path) if runconfig.path else None)
        return found

    def process_argv(self, request: LaunchRequest, python: str) -> list[str]:
        spark = None
        if getattr(request.runconfig, "framework", "Python") == "PySpark":
            spark = self._spark_submit(request.runconfig)
        return self.script_argv(request, python, spark_submit=spark)


def package_spark_submit() -> str | None:
    """``bin/spark-submit`` of the ``pyspark`` package beside aml_magic (found, not imported:
    the package brings its own Spark, and its script finds its Spark home from its own path)."""
    import importlib.util
    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.origin:
        return None
    candidate = os.path.join(os.path.dirname(spec.origin), "bin", "spark-submit")
    return candidate if os.access(candidate, os.X_OK) else None


__all__ = ["LocalTarget", "package_spark_submit"]
