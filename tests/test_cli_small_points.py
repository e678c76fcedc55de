"""The smaller points of the Workbench migration (issue 22, item 7), against real runs on the
local target through the ``aml`` command: ``compare -r A -r B``, a final status line after a
successful submit, a sweep's header said once, ISO-8601 times in JSON and ``--query``, and a
comparison of 11 runs that fits an 80-column terminal."""
from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import termios
from datetime import datetime
from pathlib import Path

from tests._project import AML, aml, write

SCRIPT = """\
import sys
from azureml.logging import get_azureml_logger
reg = float(sys.argv[sys.argv.index('--reg') + 1]) if '--reg' in sys.argv else 1.0
get_azureml_logger().log("Accuracy", round(1 - reg / 100, 4))
print("reg", reg)
"""
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$")


def on_terminal(project: Path, *args: str, columns: int) -> str:
    """``aml ARGS`` with its output on a real pseudo-terminal COLUMNS wide (no $COLUMNS), as a
    user's shell runs it; what it printed, with the terminal's CRLF undone."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    proc = subprocess.Popen([*AML, *args], cwd=project, stdout=slave, stderr=subprocess.PIPE,
                            env=env)
    os.close(slave)
    chunks = []
    try:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:             # EIO: the last writer closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(master)
    assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    return b"".join(chunks).decode().replace("\r\n", "\n")


def _ids(project: Path) -> list[str]:
    listed = aml("history", "list", "--query", "[].run_id", "-o", "tsv", cwd=project).stdout
    return listed.split()


def test_a_successful_submit_ends_with_its_status_and_compare_takes_r(project: Path) -> None:
    write(project, "train.py", SCRIPT)
    # When two runs are submitted and followed to their end
    first = aml("experiment", "submit", "-c", "local", "train.py", "--reg", "1", "--wait",
                cwd=project)
    second = aml("experiment", "submit", "-c", "local", "train.py", "--reg", "2", cwd=project)
    # Then each ends with one final status line, as a failed run does
    for done in (first, second):
        last = done.stderr.strip().splitlines()[-1]
        assert re.fullmatch(r"run \S+: Completed \(\d+\.\d s\)", last), done.stderr
    newer, older = _ids(project)
    # And compare takes az ml's spelling: -r A -r B (and the positional form still works)
    flagged = json.loads(aml("history", "compare", "-r", older, "-r", newer, "-o", "json",
                             cwd=project).stdout)
    assert [r["run_id"] for r in flagged["runs"]] == [older, newer]
    assert [r["metrics"]["Accuracy"] for r in flagged["runs"]] == [0.99, 0.98]
    mixed = json.loads(aml("history", "compare", older, "--run", newer, "-o", "json",
                           cwd=project).stdout)
    assert [r["run_id"] for r in mixed["runs"]] == [older, newer]
    refused = aml("history", "compare", "-r", older, "--last", "2", cwd=project, check=False)
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1


def test_times_are_iso_8601_in_json_and_query(project: Path) -> None:
    write(project, "train.py", SCRIPT)
    aml("experiment", "submit", "-c", "local", "train.py", cwd=project)
    [run_id] = _ids(project)
    # --query over a listing: the time is text a person (and JMESPath string order) reads
    created = aml("history", "list", "--query", "[0].created_at", cwd=project).stdout.strip()
    assert ISO.match(created), created
    assert abs(datetime.fromisoformat(created).timestamp()
               - int(run_id.split("_")[-2]) / 1000) < 5
    # -o json of every run listing and detail: each time field, metric times included
    for args in (("history", "list"), ("run", "list"), ("history", "info", run_id),
                 ("run", "show", run_id), ("history", "last"),
                 ("history", "compare", run_id)):
        data = json.loads(aml(*args, "-o", "json", cwd=project).stdout)
        runs = data["runs"] if isinstance(data, dict) and "runs" in data else (
            data if isinstance(data, list) else [data])
        for run in runs:
            for key in ("created_at", "started_at", "ended_at"):
                assert ISO.match(run[key]), (args, key, run[key])
            assert isinstance(run["duration"], float)       # a length of time stays seconds
            for metric in run.get("metrics") if isinstance(run.get("metrics"), list) else ():
                assert ISO.match(metric["time"]), (args, metric)
    tsv = aml("run", "list", "--query", "[].[run_id, ended_at]", "-o", "tsv", cwd=project)
    assert ISO.match(tsv.stdout.strip().split("\t")[1]), tsv.stdout


def test_a_sweep_says_its_header_once_and_11_runs_fit_80_columns(project: Path) -> None:
    write(project, "train.py", SCRIPT)
    values = "10,5,2,1,0.5,0.2,0.1,0.05,0.02,0.01"
    # When a 10-point sweep is submitted and followed
    done = aml("experiment", "submit", "-c", "local", "train.py", "--sweep", f"reg={values}",
               cwd=project, timeout=300)
    # Then its header ("N child runs, at most M at a time") appears once in all the output
    both = done.stdout + done.stderr
    assert both.count("10 child runs, at most") == 1, both
    assert "aml history compare --sweep" in done.stderr.strip().splitlines()[-1]
    # And the 11 runs (parent and children) compared on an 80-column terminal fit it
    shown = on_terminal(project, "history", "compare", "--last", "11", columns=80)
    assert max(len(line) for line in shown.splitlines()) <= 80, shown
    ids = _ids(project)
    assert len(ids) == 11 and all(run_id in shown for run_id in ids)
    for reg in values.split(","):
        assert f"--reg {reg} " in shown or shown.count(f"--reg {reg}\n"), reg
        assert f"{round(1 - float(reg) / 100, 4):g}" in shown
    # While a wide terminal still shows them side by side, one column per run, as a pipe does
    wide = on_terminal(project, "history", "compare", "--last", "3", columns=400)
    assert wide.splitlines()[0].split() == ["RUN", *ids[:3]]
    piped = aml("history", "compare", "--last", "11", cwd=project).stdout
    assert piped.splitlines()[0].split() == ["RUN", *ids]
