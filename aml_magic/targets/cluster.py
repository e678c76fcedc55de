"""The ``cluster`` target: remote placement (SSH to the head node, content-addressed sync) x a
spark-submit launch: the detached agent on the head node runs ``spark-submit`` as its command,
so the driver's output is the run's ``log.txt`` (live), cancel stops the driver's process group
and the run survives the SSH connection and the submitter like every remote run.

The Python environment: ``prepare`` builds ``conda_dependencies.yml`` into
``<remoteBaseDirectory>/envs/<identity>/`` on the head node (``remote_env``: cached by identity,
a cached prepare is one read) and every run passes ``spark.pyspark.python`` (and
``PYSPARK_PYTHON``) pointing into it, so the driver and the executors use it. That path must
be readable on every node running executors: a shared home or base directory (HDInsight's
``/home`` is not; set ``remoteBaseDirectory`` to a shared mount there), or a single-machine
cluster. ``userManagedEnvironment: true`` skips the build and uses ``pythonLocation``.

The Spark application id and UI address are read from the driver's log as it arrives
(``spark.parse_driver_log``) and recorded in the run's target state.
"""
from __future__ import annotations

from typing import Any

from ..errors import TargetError
from .base import AgentState, Dependencies, LaunchRequest, PrepareResult, ProgressCallback
from .remote import RemoteTarget
from .spark import driver_facts, spark_submit_argv, unresolved_packages

# One SSH round trip before a submit: is spark-submit there, can the head node reach the master?
_PROBE = r'''
s=$1; m=$2; p=$3
command -v "$s" >/dev/null 2>&1 || { echo "nosubmit"; exit 0; }
case $m in spark://*) ;; *) echo ok; exit 0;; esac
"$p" -c '
import socket, sys
bad = []
for hp in sys.argv[1][len("spark://"):].split(","):
    host, _, port = hp.rpartition(":")
    try:
        socket.create_connection((host, int(port)), 10).close()
        print("ok"); sys.exit(0)
    except (OSError, ValueError) as exc:
        bad.append("%s (%s)" % (hp, exc))
print("nomaster " + "; ".join(bad))
' "$m" 2>&1 || echo "ok"
'''


class ClusterTarget(RemoteTarget):
    type_name = "cluster"

    def __init__(self, compute: Any, **kwargs: Any) -> None:
        super().__init__(compute, **kwargs)
        self._last_state: AgentState | None = None

    @property
    def builds_own_environment(self) -> bool:
        return self.compute.user_managed_environment is not True

    def prepare(self, runconfig: Any, *, on_progress: ProgressCallback | None = None,
                build: bool = True, strict: bool = False,
                dependencies: Dependencies | None = None) -> PrepareResult:
        result = super().prepare(runconfig, on_progress=on_progress, build=build, strict=strict,
                                 dependencies=dependencies)
        if result.environment_hash:
            result.message += "; executors use it through spark.pyspark.python"
        return result

    # -- submit -----------------------------------------------------------------------------
    def spark_submit(self) -> str:
        spark = str(self.compute.spark_submit_location or "spark-submit")
        if spark.startswith("~/"):
            spark = self.transport.home() + spark[1:]
        return spark

    def _probe(self, spark: str) -> None:
        """Say "no spark-submit" or "master unreachable" in one line before anything starts."""
        master = str(self.compute.spark_master or "")
        python = str(self.compute.python_location or "python3")
        result = self.transport.run(["sh", "-c", _PROBE, "sh", spark, master, python],
                                    timeout=60, check=False)
        answer = result.stdout.decode("utf-8", "replace").strip().splitlines()
        last = answer[-1] if answer else ""
        where = f"target '{self.compute.name}' ({self.compute.address})"
        if last == "nosubmit":
            raise TargetError(f"{where}: spark-submit ('{spark}') was not found on the head "
                              f"node; install Spark there or set sparkSubmitLocation in "
                              f"{self.compute_file()}")
        if last.startswith("nomaster"):
            raise TargetError(f"{where}: the Spark master {master} cannot be reached from the "
                              f"head node ({last[9:][:200]}); start it or fix sparkMaster in "
                              f"{self.compute_file()}")

    def submit(self, request: LaunchRequest) -> dict[str, Any]:
        spark = self.spark_submit()
        self._probe(spark)
        request.extra["spark_submit"] = spark
        state = super().submit(request)
        state["spark_master"] = self.compute.spark_master or "(cluster default)"
        spark_deps = _spark_deps(request)
        if spark_deps is not None and getattr(spark_deps, "path", None):
            state["spark_dependencies"] = str(spark_deps.path)
        return state

    def process_argv(self, request: LaunchRequest, python: str) -> list[str]:
        interpreter = self.placement.python()
        argv = spark_submit_argv(str(request.extra.get("spark_submit") or self.spark_submit()),
                                 _spark_deps(request), request.command,
                                 master=self.compute.spark_master or None,
                                 deploy_mode=self.compute.yarn_deploy_mode or None,
                                 python=interpreter)
        request.env.setdefault("PYSPARK_PYTHON", interpreter)
        return argv

    # -- watching ---------------------------------------------------------------------------
    def read_state(self, target_state: dict[str, Any]) -> AgentState:
        state = super().read_state(target_state)
        if state.state == "Failed" and target_state.get("spark_unresolved"):
            state.reason = _unresolved_reason(target_state)
        self._last_state = state
        return state

    def sync_log(self, target_state: dict[str, Any], local_log: Any) -> None:
        """Copy the new part of the driver's log; record the application id and UI address
        once they appear; name an unresolvable package in the run's reason."""
        before = local_log.stat().st_size if local_log.exists() else 0
        super().sync_log(target_state, local_log)
        after = local_log.stat().st_size if local_log.exists() else 0
        if after <= before:
            return
        with open(local_log, "rb") as log:
            log.seek(max(0, before - 512))          # ids split across two reads
            text = log.read(after - max(0, before - 512)).decode("utf-8", "replace")
        for key, value in driver_facts(text).items():
            target_state.setdefault(key, value)
        missing = unresolved_packages(text)
        if missing:
            target_state.setdefault("spark_unresolved", missing)
            state = self._last_state       # this pass's state: its reason is the run's
            if state is not None and state.state == "Failed":
                state.reason = _unresolved_reason(target_state)


def _unresolved_reason(target_state: dict[str, Any]) -> str:
    where = target_state.get("spark_dependencies") or "spark_dependencies.yml"
    missing = ", ".join(str(m) for m in target_state.get("spark_unresolved", []))
    return (f"Spark could not resolve package {missing} named in {where}: check its "
            "coordinate and repositories (the full Ivy output is in the run's log)")


def _spark_deps(request: LaunchRequest) -> Any:
    """``spark_dependencies.yml`` of the run (loaded by the workspace on first use)."""
    return request.dependencies.spark


__all__ = ["ClusterTarget"]
