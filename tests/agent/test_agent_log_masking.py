"""Secret values in the launch spec's ``mask`` never reach log.txt, whatever the script prints."""
from __future__ import annotations

import os
import random
import re
import signal
import textwrap
from pathlib import Path

from aml_magic.agent._logmask import StreamMasker, mask_values
from tests._wait import process_alive, wait_until
from tests.agent.conftest import launch, read_status, wait_status

SECRET = "s3cr3t-T0ken-value"
MASKS = [SECRET, "other-pa55word", "ab"]  # "ab": too short to mask, as in secrets.Masker


def log_bytes(run_dir: Path) -> bytes:
    return (run_dir / "log.txt").read_bytes()


def test_secret_in_one_write_is_masked_and_lines_kept(run_dir: Path, start) -> None:
    # Given a script printing a secret in the middle of its output, and a too-short value
    start(f"print('before')\nprint('token={SECRET}; ab')\nprint('after')\n", mask=MASKS)
    # When it completes
    assert wait_status(run_dir)["state"] == "Completed"
    # Then the log has the mask instead of the secret, short values untouched, lines intact
    assert log_bytes(run_dir) == b"before\ntoken=******; ab\nafter\n"


def test_secret_split_across_writes_with_a_pause(run_dir: Path, start, tmp_path: Path) -> None:
    # Given a script that writes half the secret, pauses until the test opens a gate, then
    # writes the rest
    gate = tmp_path / "gate"
    start(textwrap.dedent(f"""\
        import os, sys, time
        sys.stdout.write("line one\\nkey=" + {SECRET[:5]!r}); sys.stdout.flush()
        while not os.path.exists({str(gate)!r}):
            time.sleep(0.01)
        sys.stdout.write({SECRET[5:]!r} + " done\\n")
    """), mask=MASKS)
    # When the first half has been written, Then the finished text is already in the log
    # (nothing waits for a timer) but not the half that could begin a secret
    wait_until(lambda: b"key=" in log_bytes(run_dir), 30, "'key=' reached the log")
    assert log_bytes(run_dir) == b"line one\nkey="
    gate.touch()
    # And at the end the whole secret is masked
    assert wait_status(run_dir)["state"] == "Completed"
    assert log_bytes(run_dir) == b"line one\nkey=****** done\n"


def test_secret_inside_a_long_line_and_in_stderr(run_dir: Path, start) -> None:
    # Given a 400 kB line with the secret in its middle (it spans pipe reads), and stderr output
    start(textwrap.dedent(f"""\
        import sys
        sys.stdout.write("x" * 200001 + {SECRET!r} + "y" * 200001 + "\\n"); sys.stdout.flush()
        sys.stderr.write("err " + {MASKS[1]!r} + " and " + {SECRET!r} + "\\n")
    """), mask=MASKS)
    # When it completes
    assert wait_status(run_dir)["state"] == "Completed"
    # Then both are masked and nothing else changed
    assert log_bytes(run_dir) == (b"x" * 200001 + b"******" + b"y" * 200001 + b"\n"
                                  + b"err ****** and ******\n")


def test_flood_of_output_keeps_every_line_in_order(run_dir: Path, start) -> None:
    # Given a script printing 50,000 lines as fast as it can, every 7th holding a secret,
    # and non-ASCII values
    secret = "pässwörd-✓"
    start(textwrap.dedent(f"""\
        import sys
        out = sys.stdout
        for i in range(50000):
            out.write("line %d %s\\n" % (i, {secret!r} if i % 7 == 0 else "plain"))
    """), mask=[secret])
    # When it completes
    assert wait_status(run_dir)["state"] == "Completed"
    # Then the log holds every line once, in order, masked
    lines = log_bytes(run_dir).decode("utf-8").splitlines()
    assert len(lines) == 50000
    assert lines == ["line %d %s" % (i, "******" if i % 7 == 0 else "plain") for i in range(50000)]


def test_without_mask_the_command_writes_to_log_txt_itself(run_dir: Path, start) -> None:
    # Given a script that reports what its stdout is
    script = "import os\nopen('fd1.txt', 'w').write(os.readlink('/proc/self/fd/1'))\nprint('hi')\n"
    # When launched without values to mask (none, or only too-short ones)
    for mask in ([], ["ab"]):
        (run_dir / "log.txt").unlink(missing_ok=True)
        start(script, mask=mask) if mask else start(script)
        assert wait_status(run_dir)["state"] == "Completed"
        # Then its stdout is log.txt (the log survives the supervisor), as before
        assert (run_dir / "work" / "fd1.txt").read_text() == str(run_dir / "log.txt")
        assert log_bytes(run_dir) == b"hi\n"
    # And with values to mask it is a pipe
    start(script, mask=[SECRET])
    assert wait_status(run_dir)["state"] == "Completed"
    assert (run_dir / "work" / "fd1.txt").read_text().startswith("pipe:")


def test_cancel_with_mask_stops_quickly_and_keeps_the_masked_log(run_dir: Path, start) -> None:
    # Given a masked run that printed a secret and then sleeps
    start(f"import time\nprint('tok', {SECRET!r}, flush=True)\ntime.sleep(60)\n", mask=MASKS)
    wait_until(lambda: log_bytes(run_dir).endswith(b"\n"), 30, "the first line reached the log")
    # When canceled
    (run_dir / "cancel").touch()
    status = wait_status(run_dir, timeout=30)
    # Then it is Canceled and the log is masked
    assert status["state"] == "Canceled"
    assert log_bytes(run_dir) == b"tok ******\n"


def test_leftover_writers_are_stopped_and_masked_before_the_end(run_dir: Path, start) -> None:
    # Given a script leaving a background process that prints the secret after it ended,
    # and one that escaped into its own session holding the output open
    start(textwrap.dedent(f"""\
        import subprocess, sys
        late = "import time; time.sleep(0.3); print({SECRET!r}, flush=True); time.sleep(60)"
        writer = subprocess.Popen([sys.executable, "-c", late])
        open("late.txt", "w").write(str(writer.pid))
        p = subprocess.Popen(["sleep", "30"], start_new_session=True)
        open("escaped.txt", "w").write(str(p.pid))
        print("main done", flush=True)
    """), mask=MASKS, heartbeat_seconds=0.2)
    try:
        # When the script ends
        status = wait_status(run_dir, timeout=30)
        # Then the run completes (not waiting for the escaped process), the late writer is
        # stopped, and the log is final and masked
        assert status["state"] == "Completed"
        final = log_bytes(run_dir)
        assert final.startswith(b"main done\n") and SECRET.encode() not in final
        late = int((run_dir / "work" / "late.txt").read_text())
        wait_until(lambda: not process_alive(late), 30, "the late writer was stopped")
        assert log_bytes(run_dir) == final
    finally:
        pid = (run_dir / "work" / "escaped.txt")
        if pid.exists():
            try:
                os.kill(int(pid.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_heartbeat_continues_while_output_is_masked(run_dir: Path, start, tmp_path: Path) -> None:
    # Given a masked run that prints steadily until the test opens a gate, with a 0.2 s heartbeat
    gate = tmp_path / "gate"
    start(f"import os, time\ni = 0\nwhile not os.path.exists({str(gate)!r}):\n"
          "    print('s3cr3t-T0ken-value', i, flush=True)\n    i += 1\n    time.sleep(0.05)\n",
          mask=MASKS, heartbeat_seconds=0.2)
    first = read_status(run_dir)["heartbeat"]
    # When it runs; Then the heartbeat moves while it is still Running

    def moved() -> bool:
        return bool(read_status(run_dir)["heartbeat"] > first)
    wait_until(moved, 30, "the heartbeat moved")
    assert read_status(run_dir)["state"] == "Running"
    gate.touch()
    # And the end state has the whole log, every line masked
    assert wait_status(run_dir)["state"] == "Completed"
    lines = log_bytes(run_dir).splitlines()
    assert lines and lines == [b"****** %d" % i for i in range(len(lines))]


def test_bad_mask_is_refused_without_echoing_values(run_dir: Path) -> None:
    # Given a spec whose mask is not a list of strings
    done = launch(run_dir, {"run_id": "r", "argv": ["true"], "mask": "hunter2-secret"})
    # When launched; Then it is a bad spec, and the value is in neither stderr nor status
    assert done.returncode == 2 and b"'mask'" in done.stderr
    assert b"hunter2" not in done.stderr
    assert "hunter2" not in (run_dir / "status.json").read_text()


def test_stream_masker_equals_masking_the_whole_text() -> None:
    # Given random values (overlapping, sharing prefixes) and random text containing them
    rnd = random.Random(7)
    for _ in range(2000):
        values = ["".join(rnd.choice("abx\n") for _ in range(rnd.randint(3, 6)))
                  for _ in range(rnd.randint(1, 4))]
        text = "".join(rnd.choice("abxy\n") for _ in range(rnd.randint(0, 60)))
        for value in values:
            at = rnd.randint(0, len(text))
            text = text[:at] + value + text[at:]
        data, encoded = text.encode(), mask_values(values)
        expected = re.compile(b"|".join(re.escape(v) for v in encoded)).sub(b"******", data)
        # When it is fed in random chunks
        masker, out, at = StreamMasker(encoded), [], 0
        while at < len(data):
            size = rnd.randint(1, 9)
            out.append(masker.feed(data[at:at + size]))
            # Then what was emitted so far is final (a prefix of the masked whole text)...
            assert expected.startswith(b"".join(out))
            # ...and at most longest-1 bytes wait
            assert len(masker.pending) < max(map(len, encoded))
            at += size
        out.append(masker.flush())
        # And the result is exactly masking the whole text at once
        assert b"".join(out) == expected, (values, text)
