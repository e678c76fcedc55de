"""Every dataflow of every package in the data-preparation corpus (``../shared/compat/
dprep-corpus``, optional input like the Workbench corpus): it either reads into a DataFrame that
matches its data file, or fails with one line saying why (an unsupported block, a remote source,
or a data file the corpus does not include).

Each repository is copied to a temporary project with the files the corpus kept once restored
(``KEYS.md`` says "same content already in corpus at ..." / "identical to ..."), then each
package is run from the repository's root, as a run's working directory is the project's."""
from __future__ import annotations

import os
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest


from tests._require import require
from tests.config.corpus import REPO

ROOT = REPO.parent / "shared" / "compat" / "dprep-corpus"
#: Data files the corpus does not hold (too large, or only on the author's disk).
NOT_INCLUDED = ("CATelcoCustomerChurnTrainingSample.csv", "POLinesCMC.txt")


def _restored_copies(keys: str) -> list[tuple[str, str, str]]:
    """(repository folder, destination relative to it, corpus file to copy) for every file the
    corpus kept once: rows of KEYS.md's file table."""
    copies = []
    for line in keys.splitlines():
        cells = [cell.strip() for cell in line.split("|")]
        if len(cells) < 11 or not cells[1].startswith("`") or "/" not in cells[2]:
            continue
        package, repo = cells[1].strip("`"), cells[2].replace("/", "__")
        folder = os.path.dirname(package)
        for written, stored in re.findall(
                r"`(\./[^`]+)` -> same content already in corpus at `([^`]+)`", cells[-2]) + \
                re.findall(r"via `(\./[^`]+)` \(that \.dsource is identical to `([^`]+)`\)",
                           cells[-2]):
            copies.append((repo, os.path.normpath(os.path.join(folder, written)), stored))
    return copies


def _packages() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*") if p.suffix in (".dprep", ".dsource"))


def _project(tmp: Path, repo: str) -> Path:
    target = tmp / repo
    if not target.exists():
        shutil.copytree(ROOT / repo, target)
        for where, relative, stored in _restored_copies((ROOT / "KEYS.md").read_text()):
            if where == repo and not (target / relative).exists():
                (target / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(ROOT / stored, target / relative)
    return target


def _outcome(dprep: Any, project: Path, package: str, index: int) -> tuple[str, Any]:
    try:
        return "read", dprep.package.run(package, dataflow_idx=index)
    except dprep.UnsupportedBlockError as error:
        return "unsupported", str(error)
    except dprep.DataPrepError as error:
        return "error", str(error)


def test_every_dataflow_reads_or_says_why(dprep: Any, tmp_path_factory: Any, monkeypatch: Any,
                                         capsys: Any) -> None:
    require(ROOT.is_dir(), f"data-preparation corpus not found at {ROOT}")
    from azureml.dataprep._engine import dataflow_names
    tmp = tmp_path_factory.mktemp("dprep")
    results: dict[str, Any] = {}
    counts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for path in _packages():
        repo = path.relative_to(ROOT).parts[0]
        project = _project(tmp, repo)
        monkeypatch.chdir(project)
        relative = str(path.relative_to(ROOT / repo))
        for index, _ in enumerate(dataflow_names(relative)):
            kind, value = _outcome(dprep, project, relative, index)
            key = f"{repo}/{relative}#{index}"
            results[key] = value
            counts[kind] += 1
            if kind != "read":
                # one line, naming the file and the dataflow
                assert "\n" not in value and ", dataflow " in value
                assert value.startswith("azureml.dataprep: ")
                reason = ("remote source" if "remote source" in value else
                          "learned 'by example' program" if "learned 'by example'" in value else
                          "data connection (.dconn)" if "data connection" in value else
                          "data file not in the corpus" if any(n in value for n in NOT_INCLUDED)
                          else value)
                reasons[f"{kind}: {reason}"] += 1
    with capsys.disabled():
        print(f"\ndprep corpus: {sum(counts.values())} dataflows, {dict(counts)}; {dict(reasons)}")
    # Every failure is one of the known, said reasons: nothing else
    assert set(reasons) <= {"unsupported: remote source", "unsupported: data connection (.dconn)",
                            "unsupported: learned 'by example' program",
                            "error: data file not in the corpus"}, reasons
    # The Workbench Iris sample: 150 rows, renamed, typed, the empty trailing line filtered out
    iris = results["Azure-Samples__MachineLearningSamples-Iris/iris.dprep#0"]
    assert list(iris.columns) == ["Sepal Length", "Sepal Width", "Petal Length", "Petal Width",
                                  "Species"]
    assert len(iris) == 150 and iris.iloc[0].tolist() == [5.1, 3.5, 1.4, 0.2, "Iris-setosa"]
    assert iris["Species"].value_counts().to_dict() == {
        "Iris-setosa": 50, "Iris-versicolor": 50, "Iris-virginica": 50}
    assert str(iris["Sepal Length"].dtype) == "float64"
    # The copies that needed the restored iris.csv / iris.dsource read the same rows
    for key in ("kuharan__python-ml-flask/iris.dprep#0", "waynejohnn__Iris-Tutorial/iris.dprep#1",
                "ziababar__CogBankModel/iris.dprep#1", "martthalch__myIris/iris-1.dprep#1"):
        assert len(results[key]) == 150, key
    # AtmaMani fixes a typo with a second rename ("Peetal Length" -> "Petal Length")
    assert "Petal Length" in results["AtmaMani__azml-end-to-end/column-prep.dprep#0"].columns
    # Market campaign: the CSV moved to data/ is found; 4521 rows, distinct rows only
    bank = results["Azure-Samples__MachineLearningSamples-MarketCampaign/code/marketcampaign/"
                   "BankMarketCampaignTrainingSample.dprep#0"]
    assert bank.shape == (4521, 17) and bank["age"].iloc[0] == 30.0 and bank["y"].iloc[0] == "no"
    # The Excel source of the review sample, and the '|'-separated sentiment reviews
    assert results["Azure-Samples__MachineLearningSamples-MarketCampaign/_history/a74213d/code/"
                   "reviewsentiment/BankReviewTrainingSample.dprep#0"].shape == (120, 2)
    reviews = results["Azure-Samples__MachineLearningSamples-SentimentAnalysis/Code/"
                      "sampleReviews.dprep#0"]
    assert list(reviews.columns) == ["reviewText", "sentimentScore"] and len(reviews) == 211
    assert reviews["reviewText"].str.lower().equals(reviews["reviewText"])  # the CustomBlock ran
    # Boston weather (an author's C:\ path, found by name) and the SDK crime sample
    weather = results["Azure-Samples__MachineLearningSamples-BikeShare/BostonWeather.dprep#0"]
    assert len(weather) == 30076 and str(weather["DATE"].dtype).startswith("datetime64")
    crime = results["codybushnell__AMLDataPrepDocs/data/crime.dprep#0"]
    assert len(crime) == 10 and crime["Domestic"].dtype == "boolean"
    # What is read and what is not, as counted when this test was written
    assert counts == {"read": 39, "unsupported": 17, "error": 4}, counts


#: The data-preparation calls of the corpus's scripts, as written there (each line is checked
#: against the script, indentation aside), run in the script's folder of the reconstituted
#: repository.
CALLS = {
    "AtmaMani__azml-end-to-end/iris.py": (
        "from azureml.dataprep import datasource\n"
        "df = datasource.load_datasource('iris.dsource')"),
    "Azure-Samples__MachineLearningSamples-ChurnPrediction/CATelcoCustomerChurnModeling.py": (
        "import dataprep\n"
        "from dataprep.Package import Package\n"
        "with Package.open_package('CATelcoCustomerChurnTrainingSample.dprep') as pkg:\n"
        "    df = pkg.dataflows[0].get_dataframe(spark=False)"),
    "Azure-Samples__MachineLearningSamples-Iris/iris_sklearn.py": (
        "from azureml.dataprep.package import run\n"
        "iris = run('iris.dprep', dataflow_idx=0, spark=False)"),
    "Bougiefever__BikeShare/BikeShare Data Prep.py": (
        "from azureml.dataprep.package import run\n"
        "df = run('BikeShare Data Prep.dprep', dataflow_idx=2)"),
    "Azure-Samples__MachineLearningSamples-MarketCampaign/code/marketcampaign/"
    "BankMarketCampaignTrainingSample.py": (
        "from azureml.dataprep import package\n"
        "df = package.run('BankMarketCampaignTrainingSample.dprep', dataflow_idx=0)"),
    "Azure-Samples__MachineLearningSamples-SentimentAnalysis/Code/SentimentExtraction.py": (
        "from azureml.dataprep.package import run\n"
        "df = run('sampleReviews.dprep', dataflow_idx=0)"),
}
#: What each call gives: rows read, or the reason it cannot.
EXPECTED = {
    "AtmaMani__azml-end-to-end/iris.py": 150,
    "Azure-Samples__MachineLearningSamples-ChurnPrediction/CATelcoCustomerChurnModeling.py":
        "DataConnectionBlock",
    "Azure-Samples__MachineLearningSamples-Iris/iris_sklearn.py": 150,
    "Bougiefever__BikeShare/BikeShare Data Prep.py": "remote source",
    "Azure-Samples__MachineLearningSamples-MarketCampaign/code/marketcampaign/"
    "BankMarketCampaignTrainingSample.py": 4521,
    "Azure-Samples__MachineLearningSamples-SentimentAnalysis/Code/SentimentExtraction.py": 211,
}


@pytest.mark.parametrize("script", sorted(CALLS))
def test_the_corpus_scripts_calls_work_as_written(dprep: Any, tmp_path: Path, monkeypatch: Any,
                                                  script: str) -> None:
    require(ROOT.is_dir(), f"data-preparation corpus not found at {ROOT}")
    text = (ROOT / script).read_text(encoding="utf-8", errors="replace")
    code = CALLS[script]
    assert all(line.strip() in text for line in code.splitlines()), code
    project = _project(tmp_path, script.split("/")[0])
    monkeypatch.chdir((project / script.split("/", 1)[1]).parent)
    namespace: dict[str, Any] = {}
    expected = EXPECTED[script]
    try:
        exec(code, namespace)
    except dprep.DataPrepError as error:
        assert isinstance(expected, str) and expected in str(error) and "\n" not in str(error)
        return
    frame = namespace.get("df", namespace.get("iris"))
    assert len(frame) == expected
