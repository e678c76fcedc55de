"""render.py's history additions: metric columns, query results as text/TSV, compare grid."""
from __future__ import annotations

from aml_magic.domain.history.records import RunRecord
from aml_magic.frontends.render import any_table, any_tsv, compare_table, history_table


def _record(run_id: str, *args: str) -> RunRecord:
    return RunRecord(run_id=run_id, project="p", status="Completed", created_at=100.0,
                     started_at=100.0, ended_at=101.5, command=["t.py", *args])


def test_history_table_has_a_column_per_metric_and_dashes_where_missing() -> None:
    text = history_table([_record("p_2", "0.5"), _record("p_1")],
                         {"p_2": {"Accuracy": 0.123456789, "loss": 2}, "p_1": {"loss": [1, 2]}},
                         ["Accuracy", "loss"])
    header, first, second = text.splitlines()
    assert header.split()[-2:] == ["Accuracy", "loss"]           # metric names as logged
    assert first.split()[-3:] == ["0.5", "0.123457", "2"]
    assert second.split()[-4:] == ["-", "-", "[2", "values]"]
    assert "1.50s" in first


def test_query_results_as_text_and_tsv() -> None:
    rows = [{"run_id": "a", "Accuracy": 0.5, "metrics": {"Accuracy": 0.5}},
            {"run_id": "b", "Accuracy": None, "metrics": {}}]
    table = any_table(rows).splitlines()
    assert table[0].split() == ["RUN_ID", "ACCURACY"] and table[2].split() == ["b", "-"]
    assert any_tsv(rows) == "a\t0.5\nb\t"
    assert any_tsv([["a", 1], ["b", 2]]) == "a\t1\nb\t2"
    assert any_tsv(["a", "b"]) == "a\nb"
    assert any_table("Completed") == "Completed"
    assert "Accuracy: 0.5" in any_table(rows[0])


def test_compare_grid_keeps_run_ids_and_metric_names_as_they_are() -> None:
    rows = [{"run_id": "p_Ab", "status": "Completed", "target": "local", "arguments": ["1"],
             "duration": 2.0, "environment": {"SEED": "1"}, "metrics": {"Acc": 0.5}},
            {"run_id": "p_Cd", "status": "Failed", "target": "local", "arguments": [],
             "duration": None, "environment": {"SEED": "2"}, "metrics": {}}]
    lines = compare_table(rows, ["Acc"], ["SEED"]).splitlines()
    assert lines[0].split() == ["RUN", "p_Ab", "p_Cd"]
    grid = {line.split()[0] if not line.startswith("env") else "env SEED": line.split()
            for line in lines}
    assert grid["env SEED"][-2:] == ["1", "2"]
    assert grid["Acc"][1:] == ["0.5", "-"]
    assert grid["arguments"][1:] == ["1", "-"]


def test_a_sweep_listed_without_its_configuration_says_sweep() -> None:
    """A workspace server lists runs without their configuration (``RunJson``): a sweep
    parent's ARGUMENTS cell then says ``sweep``, never a made-up grid."""
    from types import SimpleNamespace
    listed = SimpleNamespace(run_id="p_3", status="Completed", created_at=100.0,
                             started_at=100.0, ended_at=101.0, script="t.py",
                             command=["t.py"], kind="sweep")
    row = history_table([listed], {}, []).splitlines()[1]
    assert row.split()[-1] == "sweep", row
