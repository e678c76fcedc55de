"""A Workbench script that reads its data-preparation package, run for real: submitted to the
local target (the stand-in ships with the agent), under its pre-release import names, and with
``spark=True`` in PySpark's local mode."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests._project import aml, write

from .conftest import block, source, write_package

IRIS = "5.1,3.5,1.4,0.2,Iris-setosa\n7.0,3.2,4.7,1.4,Iris-versicolor\n6.3,3.3,6.0,2.5,Iris-virginica\n\n"


def iris_project(root: Path) -> None:
    """iris.csv, iris.dsource and iris.dprep shaped like the Workbench Iris sample's."""
    (root / "iris.csv").write_text(IRIS)
    write_package(root / "iris.dsource", [
        *source("./iris.csv", headers=0),
        block("SetColumnTypesBlock", columnConversion=[
            {"columnId": f"Column{i}", "typeProperty": 3, "typeArguments": {}} for i in (1, 2, 3, 4)]),
        block("SampleBlock", activeSample="s", samples=[{"sampleId": "s", "sampleStrategy": 0,
                                                         "topArguments": {"sampleCount": 10000}}]),
        block("HandlePathColumnBlock", pathColumnOperation=0)], ids=["src"])
    renames = [block("ColumnRenameBlock", columnId=f"Column{i}", newColumnId=name) for i, name in
               enumerate(["Sepal Length", "Sepal Width", "Petal Length", "Petal Width", "Species"], 1)]
    write_package(root / "iris.dprep", [
        block("ReferenceActivityBlock", reference={
            "referenceType": 1, "referenceContainerPath": "./iris.dsource",
            "referencedActivityId": "src"}),
        *renames,
        block("FilterStringColumnBlock", columnId="Species", filterResult=1, clauseRelationship=1,
              clauses=[{"operator": 2}])], names=["iris"])


def test_a_local_run_reads_its_dprep_package(project: Path) -> None:
    # Given a project with the Iris sample's package and a script shaped like iris_sklearn.py
    iris_project(project)
    write(project, "iris_sklearn.py", """
        from azureml.logging import get_azureml_logger
        from azureml.dataprep.package import run
        import dataprep
        from dataprep.Package import Package
        from dataprep.package import run as old_run

        df = run('iris.dprep', dataflow_idx=0, spark=False)
        print('shape', df.shape, list(df.columns))
        print('first', [float(v) for v in df.iloc[0, :4]], df.iloc[0, 4])
        same = Package.open_package('iris.dprep').dataflows[0].get_dataframe()
        print('same', same.equals(df) and old_run('iris.dprep', dataflow_idx=0).equals(df))
        get_azureml_logger().log('rows', len(df))
    """)
    # When it is submitted to the local target and waited for
    done = aml("experiment", "submit", "-c", "local", "iris_sklearn.py", cwd=project, check=False)
    # Then the run completes, having read the package's three typed, renamed rows
    assert done.returncode == 0, done.stdout + done.stderr
    assert "shape (3, 5) ['Sepal Length', 'Sepal Width', 'Petal Length', 'Petal Width', 'Species']" \
        in done.stdout
    assert "first [5.1, 3.5, 1.4, 0.2] Iris-setosa" in done.stdout
    assert "same True" in done.stdout
    runs = json.loads(aml("history", "list", "-o", "json", cwd=project).stdout)
    assert runs[0]["status"] == "Completed" and runs[0]["rows"] == 3


def test_a_run_with_an_unsupported_block_fails_with_its_line_as_hint(project: Path) -> None:
    # Given a package whose dataflow holds a learned "by example" block
    (project / "iris.csv").write_text(IRIS)
    write_package(project / "learned.dprep", [*source("./iris.csv", headers=0), block(
        "DeriveColumnByExample", columnId="Column", dsl="PAB", examples="{}")], names=["iris"])
    write(project, "train.py", """
        from azureml.dataprep.package import run
        run('learned.dprep', dataflow_idx=0)
    """)
    # When a script reads it in a local run
    done = aml("experiment", "submit", "-c", "local", "train.py", cwd=project, check=False)
    # Then the run fails and its final line (and the stored hint) is the refusal, naming the
    # block, the file and the dataflow
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert ": Failed" in last and "hint: azureml.dataprep: DeriveColumnByExample (block 2) in " \
        "learned.dprep, dataflow 0 ('iris'): is not supported" in last, done.stderr
    run_id = last.split()[1].rstrip(":")
    detail = json.loads(aml("history", "info", run_id, "-o", "json", cwd=project).stdout)
    assert detail["hint"].startswith("azureml.dataprep: DeriveColumnByExample")


@pytest.mark.spark
def test_spark_true_gives_a_spark_dataframe(tmp_path: Path, dprep: Any) -> None:
    import pyspark.sql as pyspark_sql  # in the test extra: never skipped
    # Given PySpark in local mode, and the Iris sample's package
    iris_project(tmp_path)
    session = pyspark_sql.SparkSession.builder.master("local[1]").appName("dprep-test") \
        .config("spark.ui.enabled", "false").getOrCreate()
    try:
        # When the package is run with spark=True
        frame = dprep.package.run(str(tmp_path / "iris.dprep"), dataflow_idx=0, spark=True)
        # Then it is a Spark DataFrame with the same columns and rows
        assert isinstance(frame, pyspark_sql.DataFrame)
        assert frame.columns == ["Sepal Length", "Sepal Width", "Petal Length", "Petal Width",
                                 "Species"]
        rows = frame.orderBy("Sepal Length").collect()
        assert [(r["Sepal Length"], r["Species"]) for r in rows] == [
            (5.1, "Iris-setosa"), (6.3, "Iris-virginica"), (7.0, "Iris-versicolor")]
    finally:
        session.stop()
