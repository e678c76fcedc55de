"""Issue 23, finding 8: a run's outputs are read without following any link the run planted.

A real run through the real Jupyter server writes two harmless outputs, ``sub/passwd`` and
``link.txt``, and leaves a process behind (its own session, so the agent's end does not stop
it; in a container the run folder is mounted read-write and the container may be root) that,
once the host has collected and listed them, replaces ``outputs/sub`` by a link to ``/etc``
and ``outputs/link.txt`` by a link to ``/etc/passwd``. Before the fix the download opened only
the last component with ``O_NOFOLLOW``, so ``GET .../outputs/sub/passwd`` served
``/etc/passwd`` and ``aml history download`` copied it.
"""
from __future__ import annotations

from pathlib import Path

from tests._project import aml, write
from tests._wait import wait_until
from tests.server.jupyter import JupyterServer
from tests.server.test_rest import P, submit, wait_status

HOSTILE = """
import os, sys, time
os.makedirs("outputs/sub", exist_ok=True)
open("outputs/sub/passwd", "w").write("harmless\\n")
open("outputs/link.txt", "w").write("harmless\\n")
run = os.path.dirname(os.getcwd())
if os.fork() == 0:                       # a process the run leaves behind, in its own session
    os.setsid()
    if os.fork() == 0:
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        out = os.path.join(run, "outputs")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (
                os.path.isfile(os.path.join(out, "sub", "passwd"))
                and os.path.isfile(os.path.join(out, "link.txt"))):
            time.sleep(0.05)             # (the run's own loop: the host collects when it ends)
        os.rename(os.path.join(out, "sub"), os.path.join(out, "sub.orig"))
        os.symlink("/etc", os.path.join(out, "sub"))
        if sys.argv[1:] != ["folder-only"]:
            os.unlink(os.path.join(out, "link.txt"))
            os.symlink("/etc/passwd", os.path.join(out, "link.txt"))
    os._exit(0)
os.wait()
print("outputs written", flush=True)
"""
PASSWD = Path("/etc/passwd").read_bytes()


def _planted(server: JupyterServer, project: Path, *args: str) -> str:
    """A completed run whose listed outputs were then replaced by links (see HOSTILE)."""
    write(project, "plant_links.py", HOSTILE)
    run_id = submit(server, "plant_links.py", *args)["run_id"]
    shown = wait_status(server, run_id, "Completed")
    assert sorted(o["path"] for o in shown["outputs"]) == ["link.txt", "sub/passwd"]
    outputs = project / ".aml" / "runs" / run_id / "outputs"
    wait_until(lambda: (outputs / "sub").is_symlink() and (
        bool(args) or (outputs / "link.txt").is_symlink()), 60,
        "the left-behind process planted its links")
    return str(run_id)


def test_rest_downloads_never_follow_a_link_the_run_planted(server: JupyterServer,
                                                            lab_root: Path) -> None:
    # Given a completed run whose listed outputs sub/passwd and link.txt were then replaced by
    # links to /etc and /etc/passwd
    run_id = _planted(server, lab_root / "proj")
    # When the outputs are downloaded through the REST API
    answers = {name: server.api("GET", f"runs/{run_id}/outputs/{name}", params=P)
               for name in ("sub/passwd", "link.txt", "sub/hostname", "sub/../link.txt",
                            "sub.orig/passwd")}
    # Then every answer is a refusal naming the output, never the file behind the link
    for name, answer in answers.items():
        assert answer.status in (400, 404), (name, answer.status, answer.body[:200])
        assert PASSWD not in answer.body and b"root:" not in answer.body, name
    assert "symlink" in answers["sub/passwd"].json["message"]
    assert run_id in answers["link.txt"].json["message"]


def test_history_download_copies_nothing_from_outside(server: JupyterServer, lab_root: Path,
                                                      tmp_path: Path) -> None:
    # Given a completed run whose output folder sub/ was then replaced by a link to /etc (its
    # link.txt left as it was)
    project = lab_root / "proj"
    run_id = _planted(server, project, "folder-only")
    # When `aml history download` copies its outputs
    dest = tmp_path / "downloaded"
    cli = aml("history", "download", "-r", run_id, "-d", str(dest), cwd=project, check=False)
    # Then it refuses in one line naming the output and the run, and copied nothing
    assert cli.returncode == 2, (cli.stdout, cli.stderr)
    assert len(cli.stderr.strip().splitlines()) == 1, cli.stderr
    assert run_id in cli.stderr and "sub/passwd" in cli.stderr, cli.stderr
    copied = [p for p in dest.rglob("*") if p.is_file()] if dest.exists() else []
    assert copied == [], [(p, p.read_bytes()[:40]) for p in copied]
