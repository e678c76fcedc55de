"""REST ``compare`` (the Lab's compare page) and ``sweeps`` (the runs table's sweep filter)
against a real Jupyter server over a real SQLite history: the values are the history's, long
series are thinned, bad requests are one-line 4xx."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from tests._contract import assert_shape
from tests.server.jupyter import JupyterServer

P = "project=proj"


def _seed(project: Path) -> tuple[str, list[str], str]:
    """A sweep parent with 4 children (--lr 0.001..1, loss series of 3 steps; the last child
    logged 5000 steps) and one run outside the sweep. (parent, children, other)."""
    from aml_magic.domain.history import RunRecord, RunStatus, RunStore
    from aml_magic.domain.history.records import Metric

    def record(i: int, **kw: Any) -> RunRecord:
        return RunRecord(run_id=f"proj_{1_700_000_000_000 + i * 1000:013d}_{i:04x}",
                         project="proj", target="local", target_type="local",
                         status=RunStatus.COMPLETED, created_at=1.7e9 + i, started_at=1.7e9 + i,
                         ended_at=1.7e9 + i + 1, **kw)
    parent = record(0, script="sweep.py", command=["sweep.py"], kind="sweep")
    children = [record(i + 1, script="fit.py", command=["fit.py", "--lr", str(10.0 ** (i - 3)),
                                                        "--depth", str(i + 2)],
                       parent_run_id=parent.run_id) for i in range(4)]
    other = record(9, script="alone.py", command=["alone.py", "--lr=0.5"])
    with RunStore(project) as store:
        store.insert_many([parent, *children, other])
        for i, child in enumerate(children):
            steps = 5000 if i == 3 else 3
            store.add_metrics(child.run_id, [Metric("loss", 1.0 / (s + 1 + i), s, 1.0)
                                             for s in range(steps)])
            store.add_metrics(child.run_id, [Metric("note", "text", None, 1.0)])
    return parent.run_id, [c.run_id for c in children], other.run_id


def test_compare_and_sweeps(server: JupyterServer, lab_root: Path) -> None:
    parent, children, other = _seed(lab_root / "proj")
    # When the sweep filter lists the sweeps
    listed = server.api("GET", f"sweeps?{P}")
    assert listed.status == 200, listed.body
    assert_shape("SweepListJson", listed.json)
    assert listed.json["sweeps"] == [{"run_id": parent, "name": "sweep.py", "status": "Completed",
                                      "created_at": 1.7e9, "children": 4}]
    # When two runs are compared by id (one a unique prefix)
    reply = server.api("GET", f"compare?{P}&run={children[0]}&run={other[:-2]}")
    assert reply.status == 200, reply.body
    assert_shape("RunComparisonJson", reply.json)
    data = reply.json
    # Then the runs, their parameters (numbers as numbers) and last metric values are there
    assert [r["run_id"] for r in data["runs"]] == [children[0], other]
    assert data["parameters"] == {children[0]: {"lr": 0.001, "depth": 2}, other: {"lr": 0.5}}
    assert data["parameter_names"] == ["depth", "lr"]
    assert data["runs"][0]["metrics"] == {"loss": 1.0 / 3, "note": "text"}
    # And the numeric series only, step by step
    assert data["series"][children[0]] == {"loss": [[0, 1.0], [1, 0.5], [2, 1.0 / 3]]}
    assert data["series"][other] == {}
    # When a sweep is compared: its children, the 5000-step series thinned to 1000 points
    sweep = server.api("GET", f"compare?{P}&sweep={parent}").json
    assert [r["run_id"] for r in sweep["runs"]] == children
    long = sweep["series"][children[3]]["loss"]
    assert len(long) == 1000 and long[0] == [0, 1.0 / 4] and long[-1] == [4999, 1.0 / 5003]
    # Bad requests are one line each
    for query, status, words in (("", 400, "compare needs"), ("&run=ghost", 404, "ghost"),
                                 (f"&sweep={other}", 400, "no child runs"),
                                 (f"&run={other}&sweep={parent}", 400, "not"),
                                 ("&run=" + "&run=".join(str(i) for i in range(201)), 400,
                                  "at most")):
        bad = server.api("GET", f"compare?{P}{query}")
        assert bad.status == status and words in bad.json["message"], (query, bad.body)
        assert "\n" not in bad.json["message"]
