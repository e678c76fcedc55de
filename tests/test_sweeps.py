"""Sweeps on the real local target: the grid becomes child runs of one parent, at most
``maxConcurrentRuns`` run at once (checked from the children's recorded start and end times),
cancelling the parent stops every child process, and a dead driver does not leave the parent
Running."""
from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from aml_magic.errors import AmlError
from aml_magic.domain.history import RunStore
from aml_magic.domain.history.status import RunStatus
from aml_magic.service.sweep import Parameter, child_arguments, grid, parse_sweep
from tests._project import aml, write
from tests._wait import process_alive, wait_until

SLOW = """\
import sys, time
print("child", " ".join(sys.argv[1:]), flush=True)
time.sleep(float(sys.argv[sys.argv.index("--seconds") + 1]) if "--seconds" in sys.argv
           else 0.8)
print("done", flush=True)
"""


def _limit(project: Path, slots: int) -> None:
    with open(project / "aml_config" / "local.compute", "a") as fh:
        fh.write(f"maxConcurrentRuns: {slots}\n")


def _children(project: Path, parent_id: str) -> list[Any]:
    with RunStore(project) as store:
        parent = store.get(parent_id)
        ids = [c["run_id"] for c in parent.config_snapshot["sweep"]["children"]]
        return [store.get(run_id) for run_id in ids]


def _sweep_state(project: Path, parent_id: str) -> str:
    """The parent's and each child's status and reason, and the driver's log: what a failing
    assertion about a sweep shows (a flaky failure is then diagnosable from its output)."""
    with RunStore(project) as store:
        lines = [f"{record.run_id} {' '.join(record.command[1:])}: {record.status.value}"
                 f" ({record.reason})" for record in [store.get(parent_id),
                                                      *_children(project, parent_id)]]
        driver_log = store.run_dir(parent_id) / "driver.log"
    tail = driver_log.read_text(errors="replace")[-2000:] if driver_log.exists() else ""
    return "\n".join([*lines, f"driver.log: {tail or '(empty)'}"])


def _max_overlap(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at one moment (an end before a start at the same instant)."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals],
                    key=lambda event: (event[0], event[1]))
    open_now = most = 0
    for _, step in events:
        open_now += step
        most = max(most, open_now)
    return most


def _script_pids(token: str) -> list[int]:
    """Processes whose command line holds TOKEN (the sweep's scripts, wherever they run)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if token.encode() in cmdline and process_alive(int(entry)):
            pids.append(int(entry))
    return pids


# -- the grid and the arguments -----------------------------------------------------------------
def test_grid_is_the_cartesian_product_in_the_order_given() -> None:
    parameters = parse_sweep(["reg=10,5,2.5", "depth=3,5"])
    assert parameters == [Parameter("reg", ("10", "5", "2.5")), Parameter("depth", ("3", "5"))]
    assert [tuple(p.values()) for p in grid(parameters)] == [
        ("10", "3"), ("10", "5"), ("5", "3"), ("5", "5"), ("2.5", "3"), ("2.5", "5")]


def test_child_arguments_append_flags_or_fill_placeholders() -> None:
    point = {"reg": "10", "depth": "3"}
    assert child_arguments(["data.csv"], point) == ["data.csv", "--reg", "10", "--depth", "3"]
    assert child_arguments(["--alpha={reg}", "{other}"], point) == \
        ["--alpha=10", "{other}", "--depth", "3"]


@pytest.mark.parametrize("spec", ["reg", "reg=", "=1,2", "reg=1,,2", "re g=1", "reg=1,"])
def test_bad_sweep_specs_are_refused(spec: str) -> None:
    with pytest.raises(AmlError, match="NAME=VALUE"):
        parse_sweep([spec])


def test_a_parameter_given_twice_is_refused() -> None:
    with pytest.raises(AmlError, match="given twice"):
        parse_sweep(["reg=1", "reg=2"])


def test_bad_sweep_syntax_is_one_line_and_records_nothing(project: Path) -> None:
    write(project, "train.py", SLOW)
    proc = aml("experiment", "submit", "-c", "local", "train.py", "--sweep", "reg:1,2",
               cwd=project, check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("aml: error: --sweep 'reg:1,2'") and "NAME=VALUE" in lines[0]
    with RunStore(project) as store:
        assert store.list_runs() == []


def test_max_concurrent_runs_must_be_a_positive_integer(project: Path) -> None:
    write(project, "train.py", SLOW)
    _limit(project, 0)
    proc = aml("experiment", "submit", "-c", "local", "train.py", "--sweep", "a=1,2",
               cwd=project, check=False)
    assert proc.returncode == 2 and "maxConcurrentRuns" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


# -- a sweep on the local target ----------------------------------------------------------------
def test_six_point_sweep_runs_at_most_two_at_a_time(project: Path) -> None:
    write(project, "train.py", SLOW)
    _limit(project, 2)
    # When a 6-point sweep is submitted and followed (the default: stream, then exit code)
    proc = aml("experiment", "submit", "-c", "local", "train.py", "data.csv", "--seconds",
               "1.5", "--sweep", "a=1,2,3", "--sweep", "b=x,y", cwd=project, timeout=300)
    parent_id = proc.stderr.split("sweep ", 1)[1].split(":", 1)[0]
    # Then the parent is a Completed sweep and its 6 children Completed, in grid order
    with RunStore(project) as store:
        parent = store.get(parent_id)
        assert parent.kind == "sweep" and parent.status is RunStatus.COMPLETED
        children = _children(project, parent_id)
        assert len(children) == 6
        assert [c.command[1:] for c in children] == [
            ["data.csv", "--seconds", "1.5", "--a", a, "--b", b] for a in "123" for b in "xy"]
        assert all(c.parent_run_id == parent_id and c.status is RunStatus.COMPLETED
                   for c in children)
        for child in children:          # the script got its arguments
            log = (store.run_dir(child.run_id) / "log.txt").read_text()
            assert f"child {' '.join(child.command[1:])}" in log
        # never more than 2 running, and 2 at some point, from the recorded times
        intervals = [(c.started_at, c.ended_at) for c in children]
        assert all(start is not None and end is not None and start <= end
                   for start, end in intervals)
        assert _max_overlap(intervals) == 2
        # the children past the first two waited as Queued until a slot freed
        first_end = min(end for _, end in intervals[:2])
        for child in children[2:]:
            steps = store.transitions(child.run_id)
            assert steps[0].status is RunStatus.QUEUED
            running = next(s for s in steps if s.status is RunStatus.RUNNING)
            assert running.time >= first_end
        assert parent.started_at <= min(s for s, _ in intervals)
        assert parent.ended_at >= max(e for _, e in intervals)
    # The stream named each child with its arguments and status
    for child in children:
        assert f"{child.run_id}  {' '.join(child.command[1:])}  Completed" in proc.stdout
    # history list shows the parent with its size; compare --sweep lists the 6 children
    listing = aml("history", "list", cwd=project).stdout
    assert "sweep of 6: a=1,2,3 b=x,y" in listing
    compared = json.loads(aml("history", "compare", "--sweep", parent_id, "-o", "json",
                              cwd=project).stdout)
    assert [r["run_id"] for r in compared["runs"]] == [c.run_id for c in children]
    assert compared["runs"][0]["arguments"] == ["data.csv", "--seconds", "1.5", "--a", "1",
                                                "--b", "x"]
    assert all(r["parent_run_id"] == parent_id for r in compared["runs"])
    notsweep = aml("history", "compare", "--sweep", children[0].run_id, cwd=project, check=False)
    assert notsweep.returncode == 2 and "has no child runs" in notsweep.stderr


def test_failed_child_fails_the_parent_and_the_exit_code(project: Path) -> None:
    write(project, "train.py", "import sys\nsys.exit(3 if '--a' in sys.argv and "
                               "sys.argv[sys.argv.index('--a') + 1] == '2' else 0)\n")
    proc = aml("experiment", "submit", "-c", "local", "train.py", "--sweep", "a=1,2,3",
               cwd=project, check=False, timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert "Failed (1 of 3 child runs failed" in proc.stderr


def test_cancel_of_the_parent_stops_running_children_and_queued_never_start(
        project: Path) -> None:
    token = f"sweeptoken{os.getpid()}"
    write(project, "train.py", SLOW)
    _limit(project, 2)
    parent_id = aml("experiment", "submit", "-c", "local", "train.py", token, "--seconds",
                    "120", "--sweep", "a=1,2,3,4", "-a", cwd=project).stdout.strip()
    # Given two children running (their scripts' processes exist) and two queued
    wait_until(lambda: len(_script_pids(token)) == 2, 120, "two scripts running")
    children = _children(project, parent_id)
    assert [c.status for c in children[2:]] == [RunStatus.QUEUED] * 2
    # When the parent is cancelled
    proc = aml("experiment", "cancel", "-r", parent_id, cwd=project)
    assert "Canceled" in proc.stdout
    # Then no script process is left, every child is Canceled, the queued ones never started
    wait_until(lambda: not _script_pids(token), 60, "no script process left")
    children = _children(project, parent_id)
    assert all(c.status is RunStatus.CANCELED for c in children), [c.status for c in children]
    for child in children[:2]:
        assert not process_alive(int(child.target_state.agent_pid))
    with RunStore(project) as store:
        for child in children[2:]:
            assert child.started_at is None and not child.target_state.run_dir
            assert RunStatus.RUNNING not in [s.status for s in store.transitions(child.run_id)]
        parent = store.get(parent_id)
    assert parent.status is RunStatus.CANCELED
    driver = int(parent.target_state.driver_pid)
    wait_until(lambda: not process_alive(driver), 30, "the sweep driver to exit")
    assert not _script_pids(token)


def test_a_dead_driver_fails_the_queued_children_and_the_parent_follows_the_started_ones(
        project: Path) -> None:
    token = f"drivertoken{os.getpid()}"
    write(project, "train.py", SLOW)
    _limit(project, 1)
    parent_id = aml("experiment", "submit", "-c", "local", "train.py", token, "--seconds",
                    "120", "--sweep", "a=1,2,3", "-a", cwd=project).stdout.strip()
    try:
        _kill_the_driver_and_look(project, parent_id, token)
    finally:                         # the running child goes on by design: stop it
        for pid in _script_pids(token):
            os.kill(pid, signal.SIGKILL)


def _kill_the_driver_and_look(project: Path, parent_id: str, token: str) -> None:
    wait_until(lambda: len(_script_pids(token)) == 1, 120, "the first script running")
    wait_until(lambda: _children(project, parent_id)[0].status is RunStatus.RUNNING, 60,
               "the first child recorded Running (launched) before its driver is killed")
    with RunStore(project) as store:
        driver = int(store.get(parent_id).target_state.driver_pid)
    os.kill(driver, signal.SIGKILL)
    wait_until(lambda: not process_alive(driver), 30, "the driver to die")
    # Then the next look fails the children it had not started, naming the driver, while the
    # parent follows the child it had started: still Running
    listing = json.loads(aml("run", "list", "-o", "json", cwd=project).stdout)
    by_id = {r["run_id"]: r for r in listing}
    children = _children(project, parent_id)
    assert [by_id[c.run_id]["status"] for c in children[1:]] == ["Failed", "Failed"]
    assert f"pid {driver}" in by_id[children[1].run_id]["reason"]
    shown = json.loads(aml("run", "show", children[0].run_id, "-o", "json", cwd=project).stdout)
    assert shown["status"] == "Running", shown["reason"]
    assert json.loads(aml("run", "show", parent_id, "-o", "json",
                          cwd=project).stdout)["status"] == "Running"
    # And once that child ends, the parent ends as its children did, naming the driver
    aml("run", "cancel", children[0].run_id, cwd=project)
    waited = aml("run", "wait", parent_id, "--timeout", "60", cwd=project, check=False)
    assert waited.returncode == 1 and "Failed" in waited.stdout, waited.stdout + waited.stderr
    shown = json.loads(aml("run", "show", parent_id, "-o", "json", cwd=project).stdout)
    assert "2 of 3 child runs failed" in shown["reason"]
    assert f"the sweep driver (pid {driver}) stopped" in shown["reason"]
    wait_until(lambda: not _script_pids(token), 60, "no script process left")


def test_async_submit_prints_the_parent_id_at_once(project: Path) -> None:
    write(project, "train.py", SLOW)
    proc = aml("experiment", "submit", "-c", "local", "train.py", "--sweep", "a=1",
               "-a", cwd=project)
    parent_id = proc.stdout.strip()
    with RunStore(project) as store:
        assert store.get(parent_id).kind == "sweep"
    waited = aml("run", "wait", parent_id, "--timeout", "120", cwd=project, check=False)
    assert waited.returncode == 0, waited.stdout


# -- maxConcurrentRuns ----------------------------------------------------------------------------
def test_max_concurrent_runs_key_and_defaults(tmp_path: Path) -> None:
    from aml_magic.domain.config.compute import load_compute, write_compute
    path = tmp_path / "vm.compute"
    path.write_text("type: remote\naddress: host\nmaxConcurrentRuns: 3\nfutureKey: kept\n")
    vm = load_compute(path)
    assert vm.max_concurrent_runs == 3 and vm.concurrency() == 3
    assert any("futureKey" in w for w in vm.warnings)        # unknown keys still load
    write_compute(vm)
    again = load_compute(path)
    assert again.max_concurrent_runs == 3 and again.extra == {"futureKey": "kept"}
    path.write_text("type: remote\naddress: host\n")
    assert load_compute(path).concurrency() == 1
    path.write_text("type: local\n")
    assert load_compute(path).concurrency() == len(os.sched_getaffinity(0))
    path.write_text("type: local\nmaxConcurrentRuns: many\n")
    with pytest.raises(AmlError, match=r"vm.compute:2.*maxConcurrentRuns"):
        load_compute(path)


def test_cancel_right_after_submit_leaves_nothing_running(project: Path) -> None:
    """Cancelling while the driver is starting the first children (the race between a child's
    launch and its cancel): once the driver has exited, no script of the sweep runs."""
    token = f"racetoken{os.getpid()}"
    write(project, "train.py", SLOW)
    _limit(project, 2)
    parent_id = aml("experiment", "submit", "-c", "local", "train.py", token, "--seconds",
                    "120", "--sweep", "a=1,2,3", "-a", cwd=project).stdout.strip()
    aml("run", "cancel", parent_id, cwd=project)
    with RunStore(project) as store:
        driver = int(store.get(parent_id).target_state.driver_pid)
    wait_until(lambda: not process_alive(driver), 60, "the sweep driver to exit")
    wait_until(lambda: not _script_pids(token), 60, "no script process left")
    assert all(c.status is RunStatus.CANCELED for c in _children(project, parent_id))


def test_every_child_runs_the_files_as_they_were_when_the_sweep_was_submitted(
        project: Path, tmp_path: Path) -> None:
    """Children start later than the submit (queued behind a slot): an edit of the project
    meanwhile reaches none of them (reproducible sweeps), and restore gives the submitted
    files back."""
    gate = tmp_path / "gate"
    write(project, "train.py", f"""\
        import os, sys, time
        VERSION = 1
        deadline = time.monotonic() + 120          # (a step of the wall clock cannot end it)
        while not os.path.exists({str(gate)!r}) and time.monotonic() < deadline:
            time.sleep(0.05)
        print("version", VERSION, " ".join(sys.argv[1:]), flush=True)
        """)
    _limit(project, 1)
    parent_id = aml("experiment", "submit", "-c", "local", "train.py", "--sweep", "a=1,2,3",
                    "-a", cwd=project).stdout.strip()
    try:
        wait_until(lambda: _children(project, parent_id)[0].status is RunStatus.RUNNING, 120,
                   "the first child running (the others queued behind it)")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{_sweep_state(project, parent_id)}") from None
    # When the script is edited while two children are still queued
    (project / "train.py").write_text("print('version', 2)\n")
    gate.touch()
    waited = aml("run", "wait", parent_id, "--timeout", "120", cwd=project, check=False)
    assert waited.returncode == 0, (waited.stdout + waited.stderr + "\n"
                                    + _sweep_state(project, parent_id))
    # Then every child ran version 1 with its own arguments
    with RunStore(project) as store:
        for child in _children(project, parent_id):
            log = (store.run_dir(child.run_id) / "log.txt").read_text()
            assert f"version 1 --a {child.command[-1]}" in log, \
                f"{child.run_id}: {log!r}\n{_sweep_state(project, parent_id)}"
            assert child.snapshot_digest == store.get(parent_id).snapshot_digest
    restored = tmp_path / "restored"
    aml("project", "restore", "--run-id", parent_id, "-d", str(restored), cwd=project)
    assert "VERSION = 1" in (restored / "train.py").read_text()


def test_a_driver_killed_after_every_child_started_leaves_the_parent_to_its_children(
        project: Path, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    write(project, "train.py", f"""\
        import os, time
        deadline = time.time() + 120
        while not os.path.exists({str(gate)!r}) and time.time() < deadline:
            time.sleep(0.05)
        """)
    _limit(project, 2)
    parent_id = aml("experiment", "submit", "-c", "local", "train.py", "--sweep", "a=1,2",
                    "-a", cwd=project).stdout.strip()
    wait_until(lambda: all(c.status is RunStatus.RUNNING
                           for c in _children(project, parent_id)), 120, "both children running")
    with RunStore(project) as store:
        driver = int(store.get(parent_id).target_state.driver_pid)
    # When the driver dies with both children running, and they then complete
    os.kill(driver, signal.SIGKILL)
    wait_until(lambda: not process_alive(driver), 30, "the driver to die")
    gate.touch()
    # Then the parent ends Completed, as its children did
    waited = aml("run", "wait", parent_id, "--timeout", "60", cwd=project, check=False)
    assert waited.returncode == 0, waited.stdout + waited.stderr
    assert all(c.status is RunStatus.COMPLETED for c in _children(project, parent_id))
