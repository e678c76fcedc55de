"""``Framework: PySpark`` on the ``local`` and ``remote`` targets with a real ``spark-submit``
(the pyspark package's Spark, local mode ``local[*]``, a JRE from Debian); ``docker`` is in
tests/targets/test_pyspark_docker.py."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Iterator

import pytest

from aml_magic.domain.config import load_runconfig, write_runconfig
from aml_magic.domain.history.status import RunStatus
from aml_magic.service.workspace import Workspace
from tests._require import missing
from tests.fixtures.spark import JAVA, shared_spark_home
from tests.fixtures.sshd import SshServer

JOB = """
import sys
from pyspark.sql import SparkSession
from azureml.logging import get_azureml_logger
spark = SparkSession.builder.getOrCreate()
sc = spark.sparkContext
total = sc.parallelize(range(100), 4).map(lambda x: x * 2).sum()
print(f"master {sc.master}", flush=True)   # one write: the JVM logs to the same file
print(f"total {total}", flush=True)
print(f"conf {sc.getConf().get('spark.aml.test.value', 'absent')}", flush=True)
print(f"python {sys.executable}", flush=True)
get_azureml_logger().log("total", total)
spark.stop()
"""


def spark_home() -> Path:
    try:
        import pyspark
    except ImportError as err:
        missing(f"pyspark is not installed ({err}); run scripts/provision.sh")
    if not os.access(JAVA, os.X_OK):
        missing("no Java runtime (/usr/bin/java); run scripts/provision.sh")
    return shared_spark_home(Path(pyspark.__file__).resolve().parent)


def use_pyspark(project: Path, name: str) -> None:
    path = project / "aml_config" / f"{name}.runconfig"
    config = load_runconfig(path)
    config.framework = "PySpark"
    write_runconfig(config, path)
    (project / "aml_config" / "spark_dependencies.yml").write_text(
        'configuration:\n  "spark.aml.test.value": "seven"\n'
        '  "spark.ui.enabled": "false"\nrepositories: []\npackages: []\n')
    (project / "job.py").write_text(JOB)


def check_log(log: str) -> None:
    assert "master local[*]" in log and "total 9900" in log and "conf seven" in log, log[-3000:]


@pytest.fixture
def local_ws(project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    spark_home()
    workspace = Workspace(project)
    yield workspace
    workspace.close()


@pytest.mark.spark
def test_pyspark_on_local_uses_the_pyspark_packages_spark_submit(
        local_ws: Workspace, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given no spark-submit on PATH and the template's sparkSubmitLocation: spark-submit
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert shutil.which("spark-submit") is None
    use_pyspark(project, "local")
    # When the PySpark run configuration is submitted
    run = local_ws.submit("local", "job.py")
    # Then the pyspark package's spark-submit runs it, with spark_dependencies.yml's --conf
    assert run.wait(240) == RunStatus.COMPLETED, run.record.reason
    log = run.log_text()[0]
    check_log(log)
    assert [(m.name, m.value) for m in run.metrics()] == [("total", 9900)]


@pytest.mark.spark
def test_pyspark_on_remote_runs_spark_submit_on_the_machine(project: Path,
                                                            sshd: SshServer) -> None:
    home = spark_home()
    ws = Workspace(project)
    try:
        ws.attach("remote", "vm", address=f"{sshd.host}:{sshd.port}", username=sshd.username,
                  password=sshd.password, trust_new_host_key=True,
                  remote_base_dir=f"~/.aml-test-{os.urandom(4).hex()}",
                  spark_submit_location=str(home / "bin" / "spark-submit"))
        use_pyspark(project, "vm")
        run = ws.submit("vm", "job.py")
        assert run.wait(240) == RunStatus.COMPLETED, run.record.reason
        log = run.log_text()[0]
        check_log(log)
        assert f"python {sshd.python}" in log or "python /usr/bin/python3" in log, log[-2000:]
        assert [(m.name, m.value) for m in run.metrics()] == [("total", 9900)]
    finally:
        ws.close()

