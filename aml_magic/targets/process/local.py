"""The ``local`` target: local placement x process launch. The run's copy of the project is
``.aml/runs/<id>/work`` on this machine, the script run by ``pythonLocation`` (or, for
``Framework: PySpark``, by ``sparkSubmitLocation``, else the ``spark-submit`` on PATH, else the
one of the ``pyspark`` package installed beside aml_magic) under the detached agent."""
from __future__ import annotations

import os
import shutil

from aml_magic.errors import ConfigError
from aml_magic.targets.base import AgentTarget, LaunchRequest
from aml_magic.targets.process.launch import ProcessLaunch
from aml_magic.targets.placement import LocalPlacement

TYPE_CHECKING = False
if TYPE_CHECKING:
    from aml_magic.domain.config import RunConfiguration


class LocalTarget(AgentTarget):
    type_name = "local"
    placement_class = LocalPlacement
    launch_class = ProcessLaunch

    def check(self, runconfig: RunConfiguration) -> None:
        if getattr(runconfig, "framework", "Python") == "PySpark":
            self._spark_submit(runconfig)
        self.placement.python()

    def _spark_submit(self, runconfig: RunConfiguration) -> str:
        spark = os.path.expanduser(self.compute.spark_submit_location or "spark-submit")
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
