"""Issue 23, finding 10: nothing a run writes acts on the terminal of whoever reads it.

A real local run writes escape sequences (OSC title, OSC-8 hyperlink, cursor and erase CSI,
the C1 CSI ``\\x9b``) into its log, metric names, output file names, a Workbench-hint line
and the Spark driver lines its log would carry on a cluster; the Spark launch reads that log
exactly as it reads a driver's (``SparkSubmitLaunch.observe_log``). Then ``aml run show``,
``aml history info``, ``aml run list``, ``aml history list``, ``aml history compare`` and
``aml run logs`` (on a real pty) print none of them raw. Before the fix the driver's UI
address kept the OSC-8 sequence and ``aml run show`` printed it as it was.

A second test writes hostile text straight into the history (what a forged ``record.json``
becomes after ``aml history repair``, or any value a later code path forgets to clean) and
into a ``.compute`` file: the CLI's one output guard still prints none of it raw, in every
output form, and ``-o json`` stays valid JSON with the same values.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from aml_magic.domain.history import RunStore
from aml_magic.domain.history.records import Artifact, Metric
from aml_magic.targets.spark.launch import SparkSubmitLaunch
from tests._project import aml, write
from tests.test_faults_terminal import _run_on_pty

OSC8 = "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\"
EVIL = "\x1b]0;pwned\x07\x1b[2J\x1b[1;1H\x9b6n" + OSC8

HOSTILE_RUN = r'''
import os
from azureml.logging import get_azureml_logger
E = "\x1b]0;pwned\x07\x1b[2J\x1b[1;1H\x9b6n\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\"
print("plain line " + E)
print("26/11/29 13:40:01 INFO SparkUI: Bound SparkUI to 0.0.0.0, and started at "
      "http://head:4040" + E)
print("26/11/29 13:40:02 INFO StandaloneSchedulerBackend: Connected to Spark cluster with app "
      "ID app-20261129134002-0007" + E)
print('java.io.IOException: Cannot run program "/e/bin/python' + E + '": error=2')
print("ModuleNotFoundError: No module named 'azureml.dataprep" + E + "'")
get_azureml_logger().log("loss" + E, 0.5)
get_azureml_logger().log("note", "text" + E)
os.makedirs("outputs", exist_ok=True)
open("outputs/name" + E.replace("/", "_") + ".txt", "w").write("x")
raise SystemExit(1)                     # a failed run: its hint is looked for
'''


def _assert_inert(text: str, what: str) -> None:
    assert "\x1b" not in text and "\x9b" not in text and "\x07" not in text, \
        f"{what} printed a raw control sequence: {text[:600]!r}"


def _cli_outputs(project: Path, run_id: str) -> dict[str, str]:
    shown: dict[str, str] = {}
    for args in (["run", "show", run_id], ["history", "info", run_id], ["run", "list"],
                 ["history", "list", "-o", "table"], ["history", "list", "-o", "tsv"],
                 ["history", "compare", run_id], ["run", "show", run_id, "-o", "tsv"],
                 ["run", "show", run_id, "--query", "outputs"]):
        done = aml(*args, cwd=project)
        shown[" ".join(args)] = done.stdout + done.stderr
    return shown


def test_a_hostile_run_prints_nothing_raw(project: Path) -> None:
    # Given a real run whose log, metric names, output names, hint line and Spark driver lines
    # carry escape sequences and C1 controls
    write(project, "hostile.py", HOSTILE_RUN)
    submitted = aml("experiment", "submit", "-c", "local", "hostile.py", "--wait", cwd=project,
                    check=False)
    run_id = submitted.stderr.split()[1]
    store = RunStore(project)
    record = store.get(run_id)
    log = project / ".aml" / "runs" / run_id / "log.txt"
    assert b"\x1b]8;;http://evil.example/" in log.read_bytes()
    # And the Spark launch has read that log as it reads a driver's log on a cluster
    state = record.target_state
    SparkSubmitLaunch().observe_log(None, state, log, 0)     # type: ignore[arg-type]
    store.update(run_id, target_state=state)
    store.close()
    # Then no listing prints a run-written control sequence raw
    for what, text in _cli_outputs(project, run_id).items():
        _assert_inert(text, what)
    # And the facts kept are Spark's own: the id, and no UI address carrying a sequence
    assert state.spark_app_id == "app-20261129134002-0007"
    assert state.spark_ui is None
    assert state.spark_missing_python is None
    shown = aml("run", "show", run_id, cwd=project).stdout
    assert "app-20261129134002-0007" in shown and "azureml.dataprep" in shown, shown
    assert "\\x1b]8;;" in shown                   # the run's text is there, made visible
    # And `aml run logs` on a terminal shows the sequences as text
    code, out = _run_on_pty(["run", "logs", run_id], project)
    assert code == 0
    _assert_inert(out.decode("utf-8", "replace"), "aml run logs (pty)")
    assert b"^[]0;pwned" in out and b"\\x9b6n" in out


def test_hostile_text_in_the_history_and_a_compute_file_prints_nothing_raw(
        project: Path) -> None:
    # Given a completed run, then hostile text put straight into its history (as a forged
    # record.json would after `aml history repair`): reason, hint, Spark facts, metric names
    # and values, output names; and a .compute file (a teammate's) with an escape in a value
    write(project, "ok.py", "print('ok')\n")
    run_id = aml("experiment", "submit", "-c", "local", "ok.py", "--wait",
                 cwd=project).stderr.split()[1]
    store = RunStore(project)
    state = store.get(run_id).target_state
    state.spark_app_id, state.spark_ui = "app" + EVIL, "http://head" + EVIL
    store.update(run_id, reason="reason" + EVIL, target_state=state,
                 provenance={"hint": "hint" + EVIL})
    store.add_metrics(run_id, [Metric("loss" + EVIL, 0.5, 0, 1.0),
                               Metric("note", "value" + EVIL, 0, 1.0)])
    store.set_artifacts(run_id, [Artifact("out" + EVIL, 1, "0" * 64)])
    store.close()
    with sqlite3.connect(project / ".aml" / "history.db") as db:
        assert db.execute("SELECT reason FROM runs WHERE run_id=?",
                          (run_id,)).fetchone()[0].startswith("reason\x1b]0;")
    compute = project / "aml_config" / "local.compute"
    compute.write_text(compute.read_text() + f"description: \"team{json.dumps(EVIL)[1:-1]}\"\n")
    # When every listing shows them, in every output form
    shown = _cli_outputs(project, run_id)
    for args in (["computetarget", "show", "local"], ["computetarget", "list"],
                 ["run", "show", run_id, "-o", "json"], ["history", "list", "-o", "json"],
                 ["history", "compare", run_id, "-o", "json"]):
        done = aml(*args, cwd=project)
        shown[" ".join(args)] = done.stdout + done.stderr
    # Then none prints a control sequence raw; the text is still there, made visible
    for what, text in shown.items():
        _assert_inert(text, what)
    assert "reason^[]0;pwned\\x07^[[2J" in shown[f"run show {run_id}"]
    assert "loss^[]0;pwned" in shown["history list -o table"]
    assert "team^[]0;pwned" in shown["computetarget show local"]
    # And -o json is valid JSON holding the values as they are
    detail = json.loads(shown[f"run show {run_id} -o json"])
    assert detail["reason"] == "reason" + EVIL and detail["hint"] == "hint" + EVIL
