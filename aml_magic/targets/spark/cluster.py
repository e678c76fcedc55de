"""The ``cluster`` target: remote placement (SSH to the head node, content-addressed sync) x
the spark-submit launch (``launch_spark``): the detached agent on the head node runs
``spark-submit``, so the driver's output is the run's ``log.txt`` (live), cancel stops the
driver and the run survives the SSH connection and the submitter like every remote run.

The Python environment: ``prepare`` builds ``conda_dependencies.yml`` into
``<remoteBaseDirectory>/envs/<identity>/`` on the head node (``remote_env``: cached by
identity, a cached prepare is one read) and every run passes ``spark.pyspark.python`` and
``PYSPARK_PYTHON`` pointing into it, so the driver and the executors use it. That path must be
readable on every node that runs executors (a single-machine cluster, or a
``remoteBaseDirectory`` on a mount every node shares). ``userManagedEnvironment: true`` skips
the build and uses ``pythonLocation``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from aml_magic.targets.base import Dependencies, LaunchRequest, PrepareResult, ProgressCallback
from aml_magic.targets.spark.launch import SparkSubmitLaunch, spark_submit_path
from aml_magic.targets.ssh.remote import RemoteTarget
from aml_magic.targets.spark_submit import spark_submit_argv

if TYPE_CHECKING:
    from aml_magic.domain.config import RunConfiguration


class ClusterTarget(RemoteTarget):
    type_name = "cluster"
    launch_class = SparkSubmitLaunch

    @property
    def builds_own_environment(self) -> bool:
        return self.compute.user_managed_environment is not True

    def prepare(self, runconfig: RunConfiguration, *, on_progress: ProgressCallback | None = None,
                build: bool = True, strict: bool = False,
                dependencies: Dependencies | None = None) -> PrepareResult:
        result = super().prepare(runconfig, on_progress=on_progress, build=build,
                                 strict=strict, dependencies=dependencies)
        if result.environment_hash:
            result.message += "; executors use it through spark.pyspark.python"
        return result

    def process_argv(self, request: LaunchRequest, python: str) -> list[str]:
        """``spark-submit --master M --deploy-mode D --conf ... SCRIPT ARGS`` whatever the
        run configuration's framework: a cluster runs everything through Spark."""
        interpreter = self.placement.python()
        request.env.setdefault("PYSPARK_PYTHON", interpreter)
        spark = str(request.spark_submit or spark_submit_path(self))
        return spark_submit_argv(spark, request.dependencies.spark, request.command,
                                 master=self.compute.spark_master or None,
                                 deploy_mode=self.compute.yarn_deploy_mode or None,
                                 python=interpreter)


__all__ = ["ClusterTarget"]
