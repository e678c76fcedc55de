"""REST ``run-table`` (the Lab's main-area runs table) against a real Jupyter server over a
real SQLite history: server-side sorts by a metric and a parameter, filters, search, paging,
the answer's shape, and one-line 400s for bad parameters."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from tests._contract import assert_shape
from tests.server.jupyter import JupyterServer
from tests.server.test_rest import submit

P = {"project": "proj"}
N = 30


def _seed(project: Path) -> list[str]:
    """N ended runs, created 1 s apart: run i has --lr i%7/10 and loss (i*11)%17, every third
    failed, targets alternating; no loss for every fifth."""
    from aml_magic.domain.history import RunRecord, RunStatus, RunStore
    from aml_magic.domain.history.records import Metric
    records = [RunRecord(run_id=f"proj_{1_600_000_000_000 + i * 1000:013d}_{i:04x}", project="proj",
                         target=("local", "gpu")[i % 2], target_type="local",
                         status=(RunStatus.FAILED if i % 3 == 1 else RunStatus.COMPLETED),
                         created_at=1.6e9 + i, started_at=1.6e9 + i, ended_at=1.6e9 + i + 1,
                         script=f"fit{i}.py", command=[f"fit{i}.py", "--lr", str(i % 7 / 10)])
               for i in range(N)]
    with RunStore(project) as store:
        store.insert_many(records)
        for i, record in enumerate(records):
            if i % 5:
                store.add_metrics(record.run_id, [Metric("loss", (i * 11) % 17, 0, 1.0)])
    return [r.run_id for r in records]


def _table(server: JupyterServer, query: str = "", **params: Any) -> dict[str, Any]:
    reply = server.api("GET", "run-table" + query, params={**P, **params} if not query else None)
    assert reply.status == 200, reply.body
    assert "aml;dur=" in reply.headers.get("server-timing", "")
    return reply.json


def test_sorts_filters_and_pages_on_the_server(server: JupyterServer, lab_root: Path) -> None:
    ids = _seed(lab_root / "proj")
    index = {run_id: i for i, run_id in enumerate(ids)}
    # When the table is sorted by the loss metric, ascending, two pages of 10
    first = _table(server, sort="metric:loss", order="asc", limit=10)
    second = _table(server, sort="metric:loss", order="asc", limit=10, offset=10)
    # Then the runs come in loss order (ties by id), the runs without a loss last
    assert_shape("RunTableJson", first)
    with_loss = sorted((i for i in range(N) if i % 5), key=lambda i: ((i * 11) % 17, ids[i]))
    got = [r["run_id"] for r in first["runs"] + second["runs"]]
    assert got == [ids[i] for i in with_loss][:20]
    assert first["total"] == N and first["sort"] == "metric:loss" and first["order"] == "asc"
    # And each row carries its metrics and parameters; every name is offered as a column
    row = first["runs"][0]["run_id"]
    assert first["metrics"][row] == {"loss": (index[row] * 11) % 17}
    assert first["parameters"][row] == {"lr": index[row] % 7 / 10}
    assert first["metric_names"] == ["loss"] and first["parameter_names"] == ["lr"]
    # When it is sorted by the lr parameter, descending
    by_lr = _table(server, sort="param:lr", order="desc", limit=N)
    assert [r["run_id"] for r in by_lr["runs"]] == \
        [ids[i] for i in sorted(range(N), key=lambda i: (i % 7, ids[i]), reverse=True)]
    # When it is filtered by two statuses and a target, and searched
    both = _table(server, "?project=proj&status=Failed&status=Completed&target=gpu&limit=100")
    assert both["total"] == N // 2 and all(r["target"] == "gpu" for r in both["runs"])
    failed = _table(server, status="Failed", sort="name", order="asc", limit=100)
    assert [r["run_id"] for r in failed["runs"]] == \
        sorted((ids[i] for i in range(N) if i % 3 == 1), key=lambda r: f"fit{index[r]}.py")
    found = _table(server, q="FIT17.PY")
    assert [r["run_id"] for r in found["runs"]] == [ids[17]] and found["total"] == 1


def test_bad_parameters_are_one_line_400s(server: JupyterServer) -> None:
    for params, words in (({"sort": "colour"}, "metric:NAME"), ({"order": "up"}, "asc"),
                          ({"status": "Sleeping"}, "unknown status"), ({"limit": 0}, "limit"),
                          ({"limit": 501}, "limit"), ({"offset": -1}, "offset"),
                          ({"q": "x" * 201}, "longer")):
        reply = server.api("GET", "run-table", params={**P, **params})
        assert reply.status == 400 and words in reply.json["message"], (params, reply.body)
        assert "\n" not in reply.json["message"]


def test_delete_forgets_an_ended_run_and_refuses_a_live_one(server: JupyterServer,
                                                             lab_root: Path) -> None:
    from aml_magic.domain.history import RunRecord, RunStatus, RunStore
    # Given an ended run (with its folder) and a running one
    with RunStore(lab_root / "proj") as store:
        store.create_run(RunRecord(run_id="proj_1_dead", project="proj",
                                   status=RunStatus.COMPLETED, command=["x.py", "--lr", "1"]),
                         submitter=False)
        folder = store.run_dir("proj_1_dead")
    assert folder.is_dir()
    live = submit(server, "long.py")["run_id"]
    # When both are deleted
    ended = server.api("DELETE", "runs/proj_1_dead", params=P)
    refused = server.api("DELETE", f"runs/{live}", params=P)
    # Then the ended one is gone from the history, its folder and parameters too
    assert ended.status == 204
    assert server.api("GET", "runs/proj_1_dead", params=P).status == 404
    assert not folder.exists()
    with RunStore(lab_root / "proj") as store:
        assert store.read(lambda c: c.execute(
            "SELECT COUNT(*) FROM run_params WHERE run_id = 'proj_1_dead'").fetchone()[0]) == 0
    # And the live one is refused with a line saying to cancel it first
    assert refused.status == 409 and "cancel it first" in refused.json["message"]
    assert server.api("GET", f"runs/{live}", params=P).status == 200
    server.api("POST", f"runs/{live}/cancel", params=P, body={})


def test_the_table_and_delete_need_the_token(server: JupyterServer) -> None:
    # When the table is read, or a run deleted, without a token
    read = server.api("GET", "run-table", params=P, token=False)
    delete = server.api("DELETE", "runs/proj_1_none", params=P, token=False)
    # Then both are refused and nothing is revealed
    assert read.status == 403 and delete.status == 403
    assert b"run_id" not in read.body
