"""Fast unit tests of ``aml_magic.domain.runfolder``: bounded, validated parsing of what a run writes,
and no-follow file operations in a run folder (on this machine's real file system)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aml_magic.domain import runfolder
from aml_magic.agent import proctool
from aml_magic.errors import UnsafeRunFile
from aml_magic.domain.target_state import TargetState
from aml_magic.transports.local import LocalTransport

# -- status.json ------------------------------------------------------------------------------

def status(**fields: object) -> bytes:
    base: dict[str, object] = {"state": "Running", "pid": 1, "child_pgid": 1, "started": 1.0,
                               "heartbeat": 2.0, "heartbeat_seconds": 0.5, "exit_code": None}
    base.update(fields)
    return json.dumps(base).encode()


def test_a_valid_status_parses_without_any_process_id() -> None:
    state = runfolder.parse_status(status(state="Completed", exit_code=0, ended=3.0))
    assert (state.state, state.exit_code, state.ended, state.heartbeat_seconds) == \
        ("Completed", 0, 3.0, 0.5)
    assert state.pid is None and state.child_pgid is None and state.malformed is None


def test_empty_status_is_missing_not_failed() -> None:
    assert runfolder.parse_status(b"").state == "Missing"


@pytest.mark.parametrize("raw, why", [
    (status(exit_code="<img src=x>"), "exit_code"),
    (status(exit_code=True), "exit_code"),
    (status(state="Pwned"), "unknown state"),
    (status(heartbeat="soon"), "heartbeat"),
    (status(started=float("inf")).replace(b"Infinity", b"1e999"), "started"),
    (b'{"state": "Running", "heartbeat": NaN}', "NaN"),
    (b"[1, 2]", "not a JSON object"),
    (b"\xff\xfe", "utf-8"),
    (b"{" * 100_000, "larger than"),
    (b'{"state": "Running"' + b" " * runfolder.STATUS_LIMIT + b"}", "larger than"),
])
def test_a_malformed_status_fails_the_run_with_a_reason(raw: bytes, why: str) -> None:
    state = runfolder.parse_status(raw)
    assert state.state == "Failed" and state.is_final
    assert state.malformed and why in state.malformed and state.reason == state.malformed


def test_read_status_refuses_a_symlinked_status(tmp_path: Path) -> None:
    (tmp_path / "status.json").symlink_to("/dev/zero")
    state = runfolder.read_status(LocalTransport(), str(tmp_path / "status.json"))
    assert state.state == "Failed" and "symlink" in (state.malformed or "")


# -- metrics.jsonl ----------------------------------------------------------------------------

def test_metric_lines_are_validated_one_by_one() -> None:
    raw = b"\n".join([
        b'{"name": "acc", "value": 0.5, "step": 3, "time": 10}',
        b"not json",
        b'{"name": "loss", "value": 1, "step": "one"}',
        b'{"name": "loss", "value": 1, "step": -1}',
        b'{"name": 7, "value": 1}',
        b'{"name": "nested", "value": [[1]]}',
        b'{"name": "inf", "value": Infinity}',
        b'{"name": "list", "value": [1, "a", null, true]}',
        b'{"name": "big", "value": 1' + b"0" * 5000 + b"}",
        b'{"name": "surrogate\\ud800", "value": "x"}',
        b'{"name": "partial", "val',
    ])
    chunk = runfolder.parse_metrics_chunk(raw)
    got = {m.name: (m.value, m.step, m.time) for m in chunk.metrics}
    assert got == {"acc": (0.5, 3, 10.0), "inf": ("inf", None, None),
                   "list": ([1, "a", None, True], None, None),
                   "surrogate\\ud800": ("x", None, None)}
    assert chunk.rejected == 6
    assert chunk.consumed == raw.rfind(b"\n") + 1 and not chunk.skipping  # partial line waits


def test_a_line_longer_than_a_read_is_skipped_whole_across_reads() -> None:
    limit = 1024
    data = b'{"name": "a", "value": 1}\n' + b"x" * (3 * limit) + b'\n{"name": "b", "value": 2}\n'
    offset, skipping, names, rejected = 0, False, [], 0
    for _ in range(20):
        raw = data[offset:offset + limit]
        if not raw:
            break
        chunk = runfolder.parse_metrics_chunk(raw, skipping=skipping, limit=limit)
        offset += chunk.consumed
        skipping, rejected = chunk.skipping, rejected + chunk.rejected
        names += [m.name for m in chunk.metrics]
        if chunk.consumed == 0:
            break
    assert names == ["a", "b"] and rejected == 1 and offset == len(data)


def test_reading_dev_zero_or_a_huge_file_is_bounded(tmp_path: Path) -> None:
    (tmp_path / "zero").symlink_to("/dev/zero")
    with pytest.raises(UnsafeRunFile):
        LocalTransport().read_file(str(tmp_path / "zero"))
    huge = tmp_path / "huge"
    with open(huge, "wb") as fh:
        fh.truncate(10 << 30)                       # sparse: 10 GB of zeros, no newline
    raw = LocalTransport().read_file(str(huge), 0, runfolder.METRICS_CHUNK)
    assert len(raw) == runfolder.METRICS_CHUNK
    assert len(LocalTransport().read_file(str(huge))) <= 16 << 20     # default cap
    chunk = runfolder.parse_metrics_chunk(raw)
    assert chunk.skipping and chunk.consumed == len(raw) and not chunk.metrics
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(UnsafeRunFile):              # never blocks on a FIFO
        runfolder.read_nofollow(tmp_path / "fifo")


def test_run_written_text_is_storable_and_printable() -> None:
    line = json.dumps({"name": "\x1b[2Jred\ud800", "value": "a\x07b\nc"}).encode()
    metric = runfolder.parse_metric_line(line)
    assert metric is not None
    assert (metric.name, metric.value) == ("\\x1b[2Jred\\ud800", "a\\x07b\nc")
    state = runfolder.parse_status(status(state="Failed", reason="\x1b]0;pwned\x07 " + "x" * 5000))
    assert state.reason is not None and state.reason.startswith("\\x1b]0;pwned\\x07")
    assert len(state.reason) < 2100
    assert runfolder.display_name(b"\xff\x1b.txt") == "\\xff\\x1b.txt"


def test_outputs_manifest_drops_bad_entries() -> None:
    good = {"path": "a/b.txt", "size": 3, "sha256": "0" * 64}
    raw = json.dumps([good, {"path": "../x", "size": 1, "sha256": "0" * 64},
                      {"path": "/etc/passwd", "size": 1, "sha256": "0" * 64},
                      {"path": "c", "size": -1, "sha256": "0" * 64},
                      {"path": "d", "size": 1, "sha256": "zz"}, "junk"]).encode()
    assert [a.path for a in runfolder.parse_outputs_manifest(raw)] == ["a/b.txt"]
    assert runfolder.parse_outputs_manifest(b"\x00" * 10) == []


# -- no-follow file operations ----------------------------------------------------------------

@pytest.fixture
def run_and_outside(tmp_path: Path) -> tuple[Path, Path]:
    run, outside = tmp_path / "run", tmp_path / "outside"
    (run / "work" / "outputs").mkdir(parents=True)
    outside.mkdir()
    (outside / "victim.txt").write_text("keep")
    return run, outside


def test_copy_refuses_symlinks_on_both_sides_and_replaces_planted_links(
        run_and_outside: tuple[Path, Path]) -> None:
    run, outside = run_and_outside
    src = run / "work" / "outputs"
    (src / "model.bin").write_bytes(b"w")
    (src / "sub").mkdir()
    (src / "sub" / "a.txt").write_bytes(b"a")
    (src / "escape").symlink_to(outside)
    (src / "link.txt").symlink_to(outside / "victim.txt")
    os.mkfifo(src / "fifo")
    (src / os.fsdecode(b"\xff.bin")).write_bytes(b"x")
    dest = run / "outputs"
    dest.mkdir()
    (dest / "model.bin").symlink_to(outside / "victim.txt")       # planted: must be replaced
    os.link(outside / "victim.txt", dest / "sub-hardlink")
    (dest / "sub").symlink_to(outside)                            # planted folder link
    report = runfolder.copy_tree_nofollow(run, "work/outputs", run, "outputs")
    assert [a.path for a in report.copied] == ["\\xff.bin", "model.bin"]
    assert any(r.startswith("escape") for r in report.refused)
    assert any(r.startswith("link.txt") for r in report.refused)
    assert any(r.startswith("fifo") for r in report.refused)
    assert any(r.startswith("sub/") for r in report.refused)
    assert (outside / "victim.txt").read_text() == "keep"
    assert sorted(p.name for p in outside.iterdir()) == ["victim.txt"]
    assert (dest / "model.bin").read_bytes() == b"w" and not (dest / "model.bin").is_symlink()


def test_copy_into_a_symlinked_destination_writes_nothing(run_and_outside: tuple[Path, Path]) -> None:
    run, outside = run_and_outside
    (run / "work" / "outputs" / "model.bin").write_bytes(b"w")
    (run / "outputs").symlink_to(outside)
    report = runfolder.copy_tree_nofollow(run, "work/outputs", run, "outputs")
    assert report.copied == [] and "outputs" in report.refused[0]
    assert sorted(p.name for p in outside.iterdir()) == ["victim.txt"]
    (run / "work" / "outputs").rename(run / "work" / "real")
    (run / "work" / "outputs").symlink_to(outside)                # a symlinked source
    report = runfolder.copy_tree_nofollow(run, "work/outputs", run, "copy")
    assert report.copied == [] and "symlink" in report.refused[0]


def test_markers_locks_and_appends_never_write_through_links(
        run_and_outside: tuple[Path, Path]) -> None:
    run, outside = run_and_outside
    for name in ("cancel", ".lock", "agent.log"):
        (run / name).symlink_to(outside / f"planted{name}")
    runfolder.write_marker(run, "cancel", b"cancel\n")
    assert (run / "cancel").read_bytes() == b"cancel\n" and not (run / "cancel").is_symlink()
    fd = runfolder.open_lock(run)
    os.close(fd)
    assert (run / ".lock").is_file() and not (run / ".lock").is_symlink()
    (run / ".lock").unlink()
    (run / ".lock").mkdir()                                       # a folder: moved aside
    os.close(runfolder.open_lock(run))
    assert (run / ".lock").is_file()
    with pytest.raises(UnsafeRunFile):
        runfolder.append_nofollow(run, "agent.log", b"x")
    os.link(outside / "victim.txt", run / "hard.log")
    with pytest.raises(UnsafeRunFile):
        runfolder.append_nofollow(run, "hard.log", b"x")
    assert sorted(p.name for p in outside.iterdir()) == ["victim.txt"]
    assert (outside / "victim.txt").read_text() == "keep"


def test_tree_manifest_hashes_only_regular_files_inside(run_and_outside: tuple[Path, Path]) -> None:
    run, outside = run_and_outside
    out = run / "outputs"
    (out / "d").mkdir(parents=True)
    (out / "d" / "f.txt").write_bytes(b"abc")
    (out / "big").symlink_to(outside)
    (out / "zero").symlink_to("/dev/zero")
    os.mkfifo(out / "fifo")
    assert [(a.path, a.size) for a in runfolder.tree_manifest(run, "outputs")] == [("d/f.txt", 3)]


# -- process identity -------------------------------------------------------------------------

def test_open_file_nofollow_refuses_a_link_on_any_component(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "outputs" / "real").mkdir(parents=True)
    (run / "outputs" / "real" / "a.txt").write_text("mine")
    os.symlink("/etc", run / "outputs" / "sub")
    os.symlink("/etc/hostname", run / "outputs" / "last")
    os.mkfifo(run / "outputs" / "fifo")
    fd, info = runfolder.open_file_nofollow(run, "outputs/real/a.txt")
    with os.fdopen(fd, "rb") as fh:
        assert fh.read() == b"mine" and info.st_size == 4
    for rel in ("outputs/sub/hostname", "outputs/last", "outputs/fifo", "outputs/real",
                "outputs/../outputs/real/a.txt", "/etc/hostname", "outputs//real/a.txt",
                "outputs/./real/a.txt", "outputs/real/a.txt\0"):
        with pytest.raises(UnsafeRunFile):
            runfolder.open_file_nofollow(run, rel)
    with pytest.raises(FileNotFoundError):
        runfolder.open_file_nofollow(run, "outputs/real/missing.txt")


def test_identity_checks_refuse_a_reused_or_foreign_pid() -> None:
    proc = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        start = proctool.proc_stat(proc.pid)["start"]        # type: ignore[index]
        assert proctool.is_same(proc.pid, start)
        assert not proctool.signal_process(proc.pid, start + 1, 0)   # another start: refused
        # its session's leader is alive, so the number may name someone else's session
        assert proctool.session_members(proc.pid, start) == []
        assert proctool.kill_session(proc.pid, start) == 0 and proc.poll() is None
        assert runfolder.local_signal_agent(TargetState(agent_pid=proc.pid, agent_start=start), 15)
        proc.wait(timeout=5)
    finally:
        proc.kill()
        proc.wait()


def test_kill_session_stops_an_orphaned_session_started_after_the_agent() -> None:
    # A leader that starts a group in its own session and exits: as the launcher does
    code = ("import os, subprocess, sys\n"
            "os.setsid()\n"
            "p = subprocess.Popen(['sleep', '30'], stdout=subprocess.DEVNULL,"
            " stderr=subprocess.DEVNULL)\n"
            "print(p.pid, flush=True)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=10, check=True)
    child = int(out.stdout.split()[0])
    stat = proctool.proc_stat(child)
    assert stat is not None
    assert proctool.kill_session(stat["sid"], stat["start"] + 10**9) == 0   # started earlier
    assert proctool.kill_session(stat["sid"], stat["start"]) == 1
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and proctool.is_same(child, stat["start"]):
        time.sleep(0.02)
    assert not proctool.is_same(child, stat["start"])


def test_the_proctool_runs_as_a_shipped_script() -> None:
    source = Path(proctool.__file__).read_text()
    me = proctool.self_identity()
    out = subprocess.run([sys.executable, "-S", "-E", "-c", source, "alive", str(me["pid"]),
                          str(me["start"])], capture_output=True, text=True, timeout=10, check=False)
    assert json.loads(out.stdout) == {"alive": True}
    bad = subprocess.run([sys.executable, "-S", "-E", "-c", source, "kill", "1"],
                         capture_output=True, text=True, timeout=10, check=False)
    assert bad.returncode == 2 and "usage" in bad.stderr
