"""What the driver's log says about its Spark application (``targets.spark``), and how the run
shows it (``aml run show`` text, the widget's header). Lines as Spark 3/4 print them."""
from __future__ import annotations

from typing import Any

from aml_magic.frontends.render import run_text
from aml_magic.targets.spark_submit import driver_facts, spark_submit_argv, unresolved_packages
from aml_magic.frontends.notebook.widgets._render import header_html, summary_text
from aml_magic.frontends.notebook.widgets._snapshot import RunSnapshot

STANDALONE = (
    "26/11/29 13:40:01 INFO Utils: Successfully started service 'SparkUI' on port 4040.\n"
    "26/11/29 13:40:01 INFO SparkUI: Bound SparkUI to 0.0.0.0, and started at "
    "http://head:4040\n"
    "26/11/29 13:40:02 INFO StandaloneSchedulerBackend: Connected to Spark cluster with app "
    "ID app-20261129134002-0007\n")
YARN = "INFO Client: Submitted application application_1732890000000_0042\n"
IVY = (":: UNRESOLVED DEPENDENCIES ::\n"
       "::          org.example#nothere;9.9: not found\n"
       "Exception in thread \"main\" java.lang.RuntimeException: [unresolved dependency: "
       "org.example#nothere;9.9: not found, unresolved dependency: org.example#b;1: not found]\n")


def test_the_application_id_and_ui_are_read_from_the_driver_log() -> None:
    assert driver_facts(STANDALONE) == {"spark_app_id": "app-20261129134002-0007",
                                        "spark_ui": "http://head:4040"}
    assert driver_facts(YARN) == {"spark_app_id": "application_1732890000000_0042"}
    assert driver_facts("INFO nothing here\n") == {}


def test_driver_facts_are_validated_as_they_are_read() -> None:
    """The driver's log is the run's output (issue 23, finding 10): an address carrying an
    escape sequence (an OSC-8 hyperlink), another scheme, or an id running on is not kept."""
    osc8 = "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\"
    line = "INFO SparkUI: Bound SparkUI to 0.0.0.0, and started at "
    assert driver_facts(line + "http://head:4040" + osc8 + "\n") == {}
    assert driver_facts(line + "javascript:alert(1)\n") == {}
    assert driver_facts(line + "file:///etc/passwd\n") == {}
    assert driver_facts(line + "http://head:4040\x9b6n\n") == {}
    assert driver_facts(line + "https://[::1]:4040/jobs/.\n") == {
        "spark_ui": "https://[::1]:4040/jobs/"}
    assert driver_facts("with app ID app-20261129134002-0007" + osc8) == {
        "spark_app_id": "app-20261129134002-0007"}
    assert driver_facts("Submitted application application_1_2x\n") == {}
    from aml_magic.targets.spark_submit import missing_python
    assert missing_python('Cannot run program "/e/py\x1b[2J": error=2') is None


def test_unresolved_packages_are_named_once_each() -> None:
    assert unresolved_packages(IVY) == ["org.example:nothere:9.9", "org.example:b:1"]
    assert unresolved_packages(STANDALONE) == []


def test_spark_submit_argv_keeps_values_as_separate_items() -> None:
    class Deps:
        configuration = {"spark.app.name": "my app", "a.b": "x y"}
        repositories = ["file:///r one"]
        packages: list[object] = []
    argv = spark_submit_argv("/opt/spark-submit", Deps(), ["job.py", "--n", "1"],
                             master="spark://h:7077", deploy_mode="client", python="/e/python")
    assert argv == ["/opt/spark-submit", "--master", "spark://h:7077", "--deploy-mode", "client",
                    "--name", "my app", "--conf", "a.b=x y", "--conf",
                    "spark.pyspark.python=/e/python", "--repositories", "file:///r one",
                    "job.py", "--n", "1"]


def test_the_application_is_shown_by_run_show_and_the_widget() -> None:
    detail = {"run_id": "p_1", "status": "Running", "target": "spk", "target_type": "cluster",
              "command": ["job.py"], "created_at": 0.0, "duration": 1.0, "exit_code": None,
              "reason": None, "git_commit": None, "git_dirty": None, "log": "log.txt",
              "spark_app_id": "app-20261129134002-0007", "spark_ui": "http://head:4040"}
    text = run_text(detail)
    assert "app-20261129134002-0007" in text and "http://head:4040" in text
    snap = RunSnapshot(run_id="p_1", target="spk", target_type="cluster",
                       spark_app="app-20261129134002-0007 (http://head:4040)")
    assert "app-20261129134002-0007 (http://head:4040)" in header_html(snap)
    assert "spark app: app-20261129134002-0007" in summary_text(snap)


def test_a_python_spark_cannot_start_is_named() -> None:
    from aml_magic.targets.spark_submit import missing_python
    line = ('java.io.IOException: Cannot run program "/e/bin/python": error=2, No such file or '
            "directory\n")
    assert missing_python(line) == "/e/bin/python"
    assert missing_python(STANDALONE) is None


def test_the_attach_form_asks_a_cluster_for_its_spark_master() -> None:
    from tests._require import require_module
    require_module("ipywidgets")
    from aml_magic.frontends.notebook.widgets.attach_form import AttachForm
    seen: list[Any] = []

    def attach(request: Any) -> str:
        seen.append(request)
        return "attached"
    form = AttachForm(attach)
    fields = form.fields
    form.type.value = "remote"
    assert fields["spark_master"].layout.display == "none"
    form.type.value = "cluster"
    assert fields["spark_master"].layout.display is None
    form.name.value, fields["address"].value, fields["username"].value = "myhdi", "head:22", "me"
    fields["spark_master"].value = " spark://head:7077 "
    form.button.click()
    assert seen and seen[0].type == "cluster" and \
        seen[0].options["spark_master"] == "spark://head:7077"
    assert seen[0].options["address"] == "head:22"
