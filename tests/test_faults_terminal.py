"""What reaches the user's terminal: library tracebacks only with ``--debug``; a run's escape
sequences neutralised except colour when ``aml run logs`` / ``experiment submit --wait`` write
to a real terminal (a pty), untouched when they write to a pipe."""
from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from aml_magic.frontends.termsafe import neutralise
from tests._project import AML, aml, write

EVIL = ("print('\\x1b[31mRED\\x1b[0m plain'); print('\\x1b]0;pwned-title\\x07after-osc'); "
        "print('\\x1b[2Jcleared \\x1b[1;1Hhome \\x9b6n'); print('back\\x08space')\n")


def _run_on_pty(args: list[str], cwd: Path, timeout: float = 60) -> tuple[int, bytes]:
    """Run ``aml ARGS`` with stdout on a pseudo-terminal (so isatty() is true) and collect it."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([*AML, *args], cwd=cwd, stdout=slave, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:            # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(master)
    code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    return code, b"".join(chunks)


def _check_neutralised(out: bytes) -> None:
    assert b"\x1b[31mRED\x1b[0m plain" in out          # colour passes
    assert b"\x1b]0;" not in out and b"^[]0;pwned-title" in out
    assert b"\x1b[2J" not in out and b"^[[2Jcleared" in out
    assert b"\x1b[1;1H" not in out and b"\xc2\x9b" not in out
    assert b"back\x08" not in out and b"back\\x08space" in out


def test_run_logs_on_a_terminal_passes_colour_only(project: Path) -> None:
    write(project, "evil.py", EVIL)
    run_id = aml("experiment", "submit", "-c", "local", "evil.py", "--wait",
                 cwd=project).stderr.split()[1]
    raw = aml("run", "logs", run_id, cwd=project)      # to a pipe: as the run wrote it
    assert "\x1b]0;pwned-title\x07" in raw.stdout and "\x1b[2J" in raw.stdout
    code, out = _run_on_pty(["run", "logs", run_id], project)
    assert code == 0
    _check_neutralised(out)


def test_submit_stream_on_a_terminal_passes_colour_only(project: Path) -> None:
    write(project, "evil.py", EVIL)
    code, out = _run_on_pty(["experiment", "submit", "-c", "local", "evil.py", "--wait"],
                            project)
    assert code == 0
    _check_neutralised(out)


def test_neutralise_keeps_text_and_sgr() -> None:
    assert neutralise("a\tb\r\n") == "a\tb\r\n"
    assert neutralise("\x1b[38;5;12mx\x1b[m") == "\x1b[38;5;12mx\x1b[m"
    assert neutralise("\x1b]8;;http://e\x1b\\link") == "^[]8;;http://e^[\\link"


def test_visible_shows_every_sequence_and_control_as_text() -> None:
    """What every ``aml`` listing and message passes through (cli/main.py's guard)."""
    from aml_magic.frontends.termsafe import visible
    assert visible("plain\ttext\n") == "plain\ttext\n"
    assert visible("\x1b[31mred\x1b[0m") == "^[[31mred^[[0m"
    assert visible("\x1b]8;;http://e\x1b\\l") == "^[]8;;http://e^[\\l"
    assert visible("a\x9b6n\rb\x07\u202ec") == "a\\x9b6n\\x0db\\x07\\u202ec"


def test_library_traceback_only_with_debug(project: Path) -> None:
    """A fault the code does not expect (the history folder is a file) is one line naming
    it; ``aml --debug`` shows the traceback."""
    (project / ".aml").write_text("not a folder")
    plain = aml("run", "list", cwd=project, check=False)
    assert plain.returncode == 2
    assert "Traceback" not in plain.stderr
    assert len(plain.stderr.strip().splitlines()) == 1, plain.stderr
    assert ".aml" in plain.stderr and "--debug" in plain.stderr
    debug = aml("--debug", "run", "list", cwd=project, check=False)
    assert debug.returncode == 2 and "Traceback" in debug.stderr


LIBRARY_NOISE = """\
import sys, threading
from aml_magic.frontends.cli.diagnostics import configure_logging
configure_logging(debug=sys.argv[1] == "debug")
assert "logging" not in sys.modules or sys.argv[1] == "preloaded"
import logging                                   # as a library would, later
log = logging.getLogger("paramiko.transport")
try:
    raise ConnectionResetError("peer went away")
except ConnectionResetError:
    log.error("Exception (client): peer went away", exc_info=True)
    log.error("Traceback (most recent call last):")
logging.getLogger("aml_magic.transports").error("transport failed:\\nsecond line")
t = threading.Thread(target=lambda: 1 / 0, name="reader")
t.start(); t.join()
"""


def test_library_log_records_and_thread_tracebacks_only_with_debug(tmp_path: Path) -> None:
    script = tmp_path / "noise.py"
    script.write_text(LIBRARY_NOISE)
    quiet = subprocess.run([sys.executable, str(script), "quiet"], capture_output=True,
                           text=True, check=True)
    assert "Traceback" not in quiet.stderr and "peer went away" not in quiet.stderr
    assert "aml: aml_magic.transports: transport failed: second line" in quiet.stderr
    assert "aml: internal error in reader: ZeroDivisionError" in quiet.stderr
    assert len(quiet.stderr.strip().splitlines()) == 2, quiet.stderr
    loud = subprocess.run([sys.executable, str(script), "debug"], capture_output=True,
                          text=True, check=True)
    assert "peer went away" in loud.stderr and "Traceback" in loud.stderr
