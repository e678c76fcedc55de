"""Each block type of the corpus on a small inline package: what it does to the rows and columns,
and the one line an unsupported block gives."""
from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import COMPAT, block, source, write_package

IRIS = "5.1,3.5,1.4,0.2,Iris-setosa\n7.0,3.2,4.7,1.4,Iris-versicolor\n6.3,3.3,6.0,2.5,\n\n"
PEOPLE = ("name,age,city,joined\nann,31,Oslo,2017-03-01\nbob,,Rome,2017-04-02\n"
          "ann,31,Oslo,2017-03-01\ncy,x,,2018-01-05\n")


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    (tmp_path / "iris.csv").write_text(IRIS)
    (tmp_path / "people.csv").write_text(PEOPLE)
    return tmp_path


def run(dprep: Any, path: Path, index: int = 0) -> Any:
    return dprep.package.run(str(path), dataflow_idx=index)


def test_data_source_and_parse_without_headers(dprep: Any, data: Path) -> None:
    df = run(dprep, write_package(data / "p.dprep", source("./iris.csv", headers=0)))
    assert list(df.columns) == ["Column1", "Column2", "Column3", "Column4", "Column5"]
    assert len(df) == 3 and df["Column1"].tolist() == ["5.1", "7.0", "6.3"]  # text until typed
    assert df["Column5"].isna().tolist() == [False, False, True]


def test_parse_with_headers_and_another_separator(dprep: Any, data: Path) -> None:
    (data / "t.txt").write_text("a|b\n1|x\n2|y\n")
    df = run(dprep, write_package(data / "p.dprep", source("./t.txt", separator="|")))
    assert list(df.columns) == ["a", "b"] and df["b"].tolist() == ["x", "y"]


def test_set_column_types(dprep: Any, data: Path) -> None:
    conversions = [{"columnId": "age", "typeProperty": 3},
                   {"columnId": "joined", "typeProperty": 4,
                    "typeArguments": {"dateTimeFormats": ["%Y-%m-%d"]}},
                   {"column": {"type": 2, "details": {"selectedColumn": "name"}}, "typeProperty": 0}]
    df = run(dprep, write_package(data / "p.dprep", [
        *source("./people.csv"), block("SetColumnTypesBlock", columnConversion=conversions)]))
    assert df["age"].tolist()[0] == 31.0 and math.isnan(df["age"][1]) and math.isnan(df["age"][3])
    assert str(df["joined"].dtype).startswith("datetime64") and df["joined"][0].year == 2017


def test_set_column_types_integer_and_boolean(dprep: Any, data: Path) -> None:
    (data / "b.csv").write_text("n,flag\n3,true\n4,False\n,maybe\n")
    df = run(dprep, write_package(data / "p.dprep", [*source("./b.csv"), block(
        "SetColumnTypesBlock", columnConversion=[{"columnId": "n", "typeProperty": 2},
                                                 {"columnId": "flag", "typeProperty": 1}])]))
    assert df["n"].tolist()[:2] == [3, 4] and df["n"].isna().tolist()[2]
    assert df["flag"].tolist()[:2] == [True, False] and df["flag"].isna().tolist()[2]


def test_column_rename(dprep: Any, data: Path) -> None:
    df = run(dprep, write_package(data / "p.dprep", [
        *source("./iris.csv", headers=0), block("ColumnRenameBlock", columnId="Column5",
                                                newColumnId="Species")]))
    assert list(df.columns)[-1] == "Species"


def test_filter_string_column_removes_missing_and_keeps_equal(dprep: Any, data: Path) -> None:
    base = [*source("./iris.csv", headers=0),
            block("ColumnRenameBlock", columnId="Column5", newColumnId="Species")]
    removed = run(dprep, write_package(data / "a.dprep", [*base, block(
        "FilterStringColumnBlock", columnId="Species", filterResult=1, clauseRelationship=1,
        clauses=[{"operator": 2}])]))
    assert removed["Species"].tolist() == ["Iris-setosa", "Iris-versicolor"]
    null_value = run(dprep, write_package(data / "b.dprep", [*base, block(
        "FilterStringColumnBlock", columnId="Species", filterResult=1, clauseRelationship=1,
        clauses=[{"operator": 0, "value": "(null)"}])]))
    assert len(null_value) == 2
    kept = run(dprep, write_package(data / "c.dprep", [*base, block(
        "FilterStringColumnBlock", columnId="Species", filterResult=0, clauseRelationship=1,
        clauses=[{"operator": 0, "value": "Iris-setosa"}])]))
    assert kept["Species"].tolist() == ["Iris-setosa"]


def test_filter_number_column_equal(dprep: Any, data: Path) -> None:
    df = run(dprep, write_package(data / "p.dprep", [*source("./people.csv"), block(
        "FilterNumberColumnBlock", columnId="age", filterResult=0, clauseRelationship=1,
        clauses=[{"operator": 0, "value": 31.0}])]))
    assert df["name"].tolist() == ["ann", "ann"]


def test_sample_reads_the_full_data_and_handle_path_column_drops_path(dprep: Any, data: Path) -> None:
    sample = block("SampleBlock", activeSample="s", samples=[{
        "sampleId": "s", "sampleName": "Top 10000", "sampleStrategy": 0,
        "topArguments": {"sampleCount": 1}}])
    df = run(dprep, write_package(data / "p.dprep", [
        *source("./people.csv"), sample, block("HandlePathColumnBlock", pathColumnOperation=0)]))
    assert len(df) == 4 and "Path" not in df.columns


def test_reference_to_a_dsource_and_within_the_package(dprep: Any, data: Path) -> None:
    # Given a .dsource and a .dprep whose first dataflow refers to it, the second to the first
    write_package(data / "iris.dsource", source("./iris.csv", headers=0), ids=["src"])
    reference = {"referenceType": 1, "referenceContainerPath": "./iris.dsource",
                 "referencedActivityId": "src"}
    package = write_package(data / "p.dprep", [
        block("ReferenceActivityBlock", reference=reference),
        block("ColumnRenameBlock", columnId="Column1", newColumnId="Sepal Length")],
        [block("ReferenceActivityBlock", reference={"referenceType": 0,
                                                    "referencedActivityId": "flow-0"})],
        ids=["flow-0", "flow-1"])
    # Then both dataflows read the source's rows with the rename applied
    assert list(run(dprep, package, 1).columns)[0] == "Sepal Length"
    assert len(run(dprep, package, 0)) == 3
    # And load_datasource reads the .dsource alone
    assert list(dprep.datasource.load_datasource(str(data / "iris.dsource")).columns)[0] == "Column1"


def test_delete_keep_distinct_and_missing_values(dprep: Any, data: Path) -> None:
    df = run(dprep, write_package(data / "p.dprep", [
        *source("./people.csv"),
        block("SelectRowsOnDistinctValuesInColumnBlock", columnIds=["name", "age", "city"]),
        block("ReplaceMissingStringValuesBlock", columnIds=["age", "city"], replaceWith="0",
              useNullAsMissing=True, useEmptyStringAsMissing=False),
        block("DeleteColumnBlock", columnIds=["joined"]),
        block("KeepColumnBlock", columnIds=["name", "age", "city"])]))
    assert df.values.tolist() == [["ann", "31", "Oslo"], ["bob", "0", "Rome"], ["cy", "x", "0"]]


def test_missing_values_block_replaces(dprep: Any, data: Path) -> None:
    df = run(dprep, write_package(data / "p.dprep", [*source("./people.csv"), block(
        "MissingValuesBlock", action=2, replacementValue="0", columnIds=["age"])]))
    assert df["age"].tolist() == ["31", "0", "31", "x"]


def test_convert_field_type_summarize_custom_code_and_custom_column(dprep: Any, data: Path) -> None:
    df = run(dprep, write_package(data / "p.dprep", [
        *source("./people.csv"),
        block("ConvertColumnFieldTypeBlock", columnIds=["age"], decimalPoint=0),
        block("AddCustomColumnBlock", columnId="double", priorColumnId="age",
              customExpression="row.age * 2", codeBlockType=0),
        block("SummarizeBlock", groupByColumns=["name"], summaryColumns=[
            {"columnId": "age", "summaryFunction": 2, "summaryColumnName": "age_Mean"},
            {"columnId": "city", "summaryFunction": 8, "summaryColumnName": "city_Count"}]),
        block("CustomBlock", codeBlockType=0,
              customBlock="df['who'] = df['name'].str.upper()\r\ndf = df[df.city_Count > 0]")]))
    assert list(df.columns) == ["name", "age_Mean", "city_Count", "who"]
    assert df["name"].tolist() == ["ann", "bob"] and df["who"].tolist() == ["ANN", "BOB"]
    assert df["city_Count"].tolist() == [2, 1]
    assert df["age_Mean"][0] == 31.0 and math.isnan(df["age_Mean"][1])


def test_two_way_join(dprep: Any, data: Path) -> None:
    (data / "cities.csv").write_text("city,country\nOslo,NO\nRome,IT\n")
    package = write_package(data / "p.dprep", source("./people.csv"), source("./cities.csv"), [
        block("TwoWayJoin", leftActivityReference={"referenceType": 0, "referencedActivityId": "a"},
              rightActivityReference={"referenceType": 0, "referencedActivityId": "b"},
              rightColumnPrefix="r_", leftKeyColumn="city", rightKeyColumn="city", joinType=2)],
        ids=["a", "b", "c"])
    df = run(dprep, package, 2)
    assert list(df.columns) == ["name", "age", "city", "joined", "r_city", "r_country"]
    assert df["r_country"].tolist() == ["NO", "IT", "NO"]


def test_sdk_column_blocks(dprep: Any, data: Path) -> None:
    columns = {"type": 0, "details": {"selectedColumns": ["age"]}}
    df = run(dprep, write_package(data / "p.dprep", [
        block("GetFilesBlock", path={"target": 0, "resourceDetails": [{"path": "./people.csv"}]}),
        *source("./people.csv")[1:],
        block("DropColumnsBlock", columns={"type": 0, "details": {"selectedColumns": ["joined"]}}),
        block("ReplaceNaBlock", columns={"type": 1, "details": {"term": ".*", "useRegex": True}},
              useDefaultNaList=True, useEmptyStringAsNa=True),
        block("ReplaceBlock", columns=columns, valueToFindType=0, stringValueToFind="x",
              replaceWithType=0, stringReplaceWith="7"),
        block("FillNullsBlock", columns=columns, replaceWithType=0, stringReplaceWith="0"),
        block("ToNumberBlock", columns=columns, decimalPoint=0),
        block("DropNullsBlock", columnRelationship=1, columns={"type": 0, "details": {
            "selectedColumns": ["city"]}}),
        block("RenameColumnsBlock", columnPairs=[
            {"column": {"type": 2, "details": {"selectedColumn": "age"}}, "newColumnId": "years"},
            {"column": {"type": 2, "details": {"selectedColumn": "absent"}}, "newColumnId": "x"}]),
        block("ExpressionFilterBlock", expression={"r": ["Invoke", [
            {"r": ["Identifier", "Value_GT"]},
            [{"r": ["RecordField", [{"r": ["Identifier", "row"]}, "years"]]}, 1]]]}),
        block("KeepColumnsBlock", columns={"type": 0, "details": {"selectedColumns": ["years",
                                                                                      "name"]}})]))
    assert df.to_dict("list") == {"name": ["ann", "ann"], "years": [31.0, 31.0]}


def test_disabled_blocks_are_skipped(dprep: Any, data: Path) -> None:
    learned = dict(block("DeriveColumnByExample", columnId="c", dsl="x"), isEnabled=False)
    assert len(run(dprep, write_package(data / "p.dprep", [*source("./people.csv"), learned]))) == 4


@pytest.mark.parametrize(("kind", "arguments", "reason"), [
    ("DeriveColumnByExample", {"columnId": "c", "dsl": "PAB"}, "learned 'by example'"),
    ("SplitColumnByExampleBlock", {"columnId": "c", "dsl": "PAB"}, "learned 'by example'"),
    ("FrobnicateBlock", {}, "not known to this reader"),
    ("FilterNumberColumnBlock", {"columnId": "age", "filterResult": 0,
                                 "clauses": [{"operator": 8, "value": 9.0}]}, "operator 8"),
])
def test_an_unsupported_block_gives_one_line_naming_it(dprep: Any, data: Path, kind: str,
                                                       arguments: dict[str, Any],
                                                       reason: str) -> None:
    package = write_package(data / "prep.dprep", [*source("./people.csv"),
                                                  block(kind, **arguments)], names=["clean"])
    with pytest.raises(dprep.UnsupportedBlockError) as raised:
        run(dprep, package)
    message = str(raised.value)
    assert "\n" not in message and reason in message
    assert f"{kind} (block 2) in {package}, dataflow 0 ('clean'): is not supported" in message


def test_remote_and_dconn_sources_are_unsupported(dprep: Any, data: Path) -> None:
    remote = write_package(data / "r.dsource", [block("DataSourceBlock", path={
        "target": 1, "resourceDetails": [{"path": "https://example.invalid/x.csv"}]})])
    with pytest.raises(dprep.UnsupportedBlockError, match="remote source https://example"):
        run(dprep, remote)
    dconn = write_package(data / "c.dsource", [block("DataConnectionBlock", connectionPath={
        "path": "./c.dconn"})])
    with pytest.raises(dprep.UnsupportedBlockError, match="a data connection"):
        run(dprep, dconn)


def test_a_moved_data_file_is_found_by_name_and_said(dprep: Any, data: Path, capfd: Any) -> None:
    (data / "aml_config").mkdir()  # the project root: data files are searched under it
    (data / "data").mkdir()
    (data / "iris.csv").rename(data / "data" / "iris.csv")
    (data / "code").mkdir()
    package = write_package(data / "code" / "p.dsource",
                            source("C:\\Users\\someone\\Downloads\\iris.csv", headers=0))
    assert len(run(dprep, package)) == 3
    assert "reading data/iris.csv" in capfd.readouterr().err


def test_bad_index_and_missing_file_are_one_line(dprep: Any, data: Path) -> None:
    package = write_package(data / "p.dprep", source("./people.csv"))
    with pytest.raises(dprep.DataPrepError, match=r"has 1 dataflow\(s\); dataflow_idx=3"):
        run(dprep, package, 3)
    with pytest.raises(dprep.DataPrepError, match="cannot read"):
        dprep.package.run(str(data / "absent.dprep"))


def test_open_package_dataflows(dprep: Any, data: Path) -> None:
    package = write_package(data / "p.dprep", source("./people.csv"), source("./iris.csv", 0),
                            names=["people", "iris"])
    opened = dprep.Package.open_package(str(package))
    assert [flow.name for flow in opened.dataflows] == ["people", "iris"]
    assert len(opened.dataflows[1].get_dataframe()) == 3
    assert len(opened.dataflows[0].get_dataframe(spark=False)) == 4


def test_read_csv_and_auto_read(dprep: Any, data: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(data)
    df = dprep.read_csv("people.csv")
    assert list(df.columns) == ["name", "age", "city", "joined"] and len(df) == 4
    (data / "semi.txt").write_text("a;b\n1;x\n2;y\n")
    auto = dprep.auto_read("semi.txt")
    assert list(auto.columns) == ["a", "b"] and auto["a"].tolist() == [1, 2]
    assert len(dprep.auto_read_file("people.csv")) == 4
    headless = dprep.read_csv("iris.csv", header=dprep.PromoteHeadersMode.NONE)
    assert list(headless.columns)[0] == "Column1" and len(headless) == 3


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = COMPAT
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60)


def test_importing_costs_no_pandas_and_missing_pandas_is_one_line(data: Path) -> None:
    write_package(data / "p.dprep", source("./people.csv"))
    # Importing the stand-in (both names) imports neither pandas nor PySpark
    light = _python("import sys, azureml.dataprep, dataprep\n"
                    "print(sorted(m for m in ('pandas', 'pyspark') if m in sys.modules))", data)
    assert light.returncode == 0 and light.stdout == "[]\n", light.stderr
    # Without pandas in the environment, reading a package says so in one line
    missing = _python("import sys; sys.modules['pandas'] = None\n"
                      "from azureml.dataprep.package import run\n"
                      "try:\n    run('p.dprep', dataflow_idx=0)\n"
                      "except ImportError as e:\n    print(type(e).__name__, e)", data)
    assert missing.returncode == 0, missing.stderr
    assert missing.stdout.splitlines() == [
        "PandasMissingError azureml.dataprep needs pandas in the run's environment: add pandas "
        "to aml_config/conda_dependencies.yml (or `pip install pandas` there)"]
