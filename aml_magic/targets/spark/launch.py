"""``spark-submit`` as the agent's command on the head node of a cluster (the ``cluster`` type).

A process launch (``launch_process``: the detached agent, its identity recorded at launch,
cancel = the agent's session) with three additions: one SSH round trip before the start that
says in one line when the head node has no ``spark-submit`` or cannot reach a ``spark://``
master; the driver's log read as it arrives for the application id and UI address (recorded in
the run's target state); and an Ivy failure turned into one line naming the coordinate and
``spark_dependencies.yml`` (the full output stays in the run's log).

Cancel stops the driver's process group: in client mode (and for the driver of a standalone
cluster) the application ends with it. ``yarnDeployMode: cluster`` runs the driver inside YARN,
where killing ``spark-submit`` leaves the application running: not handled yet.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from aml_magic.errors import TargetError
from aml_magic.targets.base import AgentState, Launched, LaunchRequest, TargetState
from aml_magic.targets.process.launch import ProcessLaunch
from aml_magic.targets.spark_submit import driver_facts, missing_python, unresolved_packages

if TYPE_CHECKING:
    from aml_magic.targets.base import AgentTarget

_OVERLAP = 512          # bytes of the log read again, for an id split across two reads
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


def spark_submit_path(target: AgentTarget) -> str:
    """``sparkSubmitLocation`` (``~/`` expanded on the machine), else ``spark-submit``."""
    spark = str(target.compute.spark_submit_location or "spark-submit")
    if spark.startswith("~/"):
        spark = target.transport.home() + spark[1:]
    return spark


class SparkSubmitLaunch(ProcessLaunch):
    """The agent runs ``spark-submit`` (the target's ``process_argv``) on the head node."""

    def __init__(self) -> None:
        self._last_state: AgentState | None = None

    def probe(self, target: AgentTarget, spark: str) -> None:
        """Refuse, in one line, a head node without spark-submit or an unreachable master."""
        compute = target.compute
        master = str(compute.spark_master or "")
        python = str(compute.python_location or "python3")
        result = target.transport.run(["sh", "-c", _PROBE, "sh", spark, master, python],
                                      timeout=60, check=False)
        lines = result.stdout.decode("utf-8", "replace").strip().splitlines()
        last = lines[-1] if lines else ""
        where = f"target '{compute.name}' ({compute.address})"
        if last == "nosubmit":
            raise TargetError(f"{where}: spark-submit ('{spark}') was not found on the head "
                              f"node; install Spark there or set sparkSubmitLocation in "
                              f"{target.compute_file()}")
        if last.startswith("nomaster"):
            raise TargetError(f"{where}: the Spark master {master} cannot be reached from the "
                              f"head node ({last[9:][:200]}); start it or fix sparkMaster in "
                              f"{target.compute_file()}")

    def submit(self, target: AgentTarget, request: LaunchRequest) -> Launched:
        spark = spark_submit_path(target)
        self.probe(target, spark)
        request.spark_submit = spark
        launched = super().submit(target, request)
        launched.state.spark_master = target.compute.spark_master or "(the cluster's default)"
        deps = request.dependencies.spark
        if deps is not None and getattr(deps, "path", None):
            launched.state.spark_dependencies = str(deps.path)
        return launched

    def observe_state(self, target: AgentTarget, target_state: TargetState,
                      state: AgentState) -> AgentState:
        if state.state == "Failed":
            state.reason = failure_reason(target_state) or state.reason
        self._last_state = state
        return state

    def observe_log(self, target: AgentTarget, target_state: TargetState, local_log: Path,
                    offset: int) -> None:
        """Record the application's id and UI address once the driver's log names them;
        name an unresolvable package in this pass's reason."""
        start = max(0, offset - _OVERLAP)
        with open(local_log, "rb") as log:
            log.seek(start)
            text = log.read().decode("utf-8", "replace")
        facts = driver_facts(text)
        target_state.spark_app_id = target_state.spark_app_id or facts.get("spark_app_id")
        target_state.spark_ui = target_state.spark_ui or facts.get("spark_ui")
        target_state.spark_unresolved = (target_state.spark_unresolved
                                         or unresolved_packages(text) or None)
        target_state.spark_missing_python = (target_state.spark_missing_python
                                             or missing_python(text))
        state = self._last_state              # this pass's state: its reason is the run's
        if state is not None and state.state == "Failed":
            state.reason = failure_reason(target_state) or state.reason


def failure_reason(target_state: TargetState) -> str | None:
    """One line for the failures the driver's log names: an unresolvable package, a Python
    that the driver or an executor could not start."""
    if target_state.spark_unresolved:
        where = target_state.spark_dependencies or "spark_dependencies.yml"
        missing = ", ".join(target_state.spark_unresolved)
        return (f"Spark could not resolve package {missing} named in {where}: check its "
                "coordinate and repositories (the full Ivy output is in the run's log)")
    python = target_state.spark_missing_python
    if python:
        return (f"Spark could not start the Python environment {python} (driver or "
                "executors): prepare it (`aml experiment prepare`) and make its path exist on "
                "every node (a remoteBaseDirectory all nodes share), or fix "
                "spark.pyspark.python (the full output is in the run's log)")
    return None


__all__ = ["SparkSubmitLaunch", "failure_reason", "spark_submit_path"]
