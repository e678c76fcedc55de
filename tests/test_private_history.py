"""History folders are 0700 and files 0600 whatever the umask; submit arguments holding a
secret are masked in the history and everywhere shown (issue 23, finding 11).

Real runs under umask 022, on the local target and on a remote one (the suite's sshd): every
folder of ``.aml/`` (the history database and its WAL, the run folders, what the agent and
the host write there, the kept manifests, collected outputs and logs) is 0700 and every file
0600, on this machine and in the run folder on the remote. The run's own work copy of the
project keeps its snapshot modes, inside a 0700 folder; ``.aml/cache`` and ``.aml/cells``
are not history. Each run is given a secret as a script argument (the run's environment
secret; the remote target's SSH password): the run receives it, and neither the history
(any byte under ``.aml/``), ``aml run show`` (text and JSON), nor the log holds it.
Before the fix, ``.aml/``, ``history.db``, ``log.txt`` and ``status.json`` were 0755/0644
and the argument was stored as given.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aml_magic.domain.history.status import RunStatus
from aml_magic.service.workspace import Workspace
from tests._project import aml, write

REPO = Path(__file__).resolve().parents[1]
SCRIPT = """\
    import hashlib, os, sys
    from azureml.logging import get_azureml_logger
    token = sys.argv[2]
    print("argv:", sys.argv[1:])
    print("sha:", hashlib.sha256(token.encode()).hexdigest())
    get_azureml_logger().log("accuracy", 0.9)
    os.makedirs("outputs/model", exist_ok=True)
    open("outputs/model/w.bin", "w").write("weights")
    os.makedirs("logs", exist_ok=True)
    open("logs/train.log", "w").write("log line")
    """
NOT_HISTORY = ("cache", "cells")


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def loose_modes(root: Path, *, skip_top: tuple[str, ...] = ()) -> list[str]:
    """Paths under ``root`` (and ``root`` itself) that are not 0700 folders / 0600 files; a
    run's ``work/`` folder is checked, not what it holds."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        rel = here.relative_to(root)
        if rel.parts[:1] and rel.parts[0] in skip_top:
            dirnames[:] = []
            continue
        mode = stat.S_IMODE(here.lstat().st_mode)
        if mode != 0o700:
            found.append(f"{oct(mode)} {here}")
        if here.name in ("work", ".agent") and here.parent.parent.name == "runs":
            dirnames[:] = []
            continue
        for name in filenames:
            mode = stat.S_IMODE((here / name).lstat().st_mode)
            if mode != 0o600:
                found.append(f"{oct(mode)} {here / name}")
    return found


def holding(root: Path, secret: str) -> list[str]:
    """Files under ``root`` whose bytes hold ``secret``."""
    return [str(p) for p in root.rglob("*")
            if p.is_file() and not p.is_symlink() and secret.encode() in p.read_bytes()]


def test_a_local_run_leaves_a_private_history_and_no_secret_argument(project: Path,
                                                                     umask_022: None) -> None:
    # Given a run configuration whose environment has a secret, and that secret as an argument
    secret = "s3cret-token-" + os.urandom(4).hex()
    ws = Workspace(project)
    ref = ws.store_secret("env", "TOKEN", secret)
    rc = ws.config.runconfig("local")
    ws.config.write_runconfig(dataclasses.replace(rc, environment_variables={"TOKEN": ref}))
    write(project, "train.py", SCRIPT)
    # When a real run is submitted under umask 022, then shown
    submitted = aml("experiment", "submit", "-c", "local", "-a", "train.py", "--token", secret,
                    cwd=project)
    run_id = submitted.stdout.strip()
    run = ws.run(run_id)
    assert run.wait(60) is RunStatus.COMPLETED
    shown = aml("run", "show", run_id, cwd=project)
    as_json = aml("run", "show", run_id, "-o", "json", cwd=project)
    # Then the run got the secret, and nothing of the history or shown holds it
    log = (project / ".aml" / "runs" / run_id / "log.txt").read_text()
    assert hashlib.sha256(secret.encode()).hexdigest() in log
    assert holding(project / ".aml", secret) == []
    assert secret not in shown.stdout + as_json.stdout
    assert json.loads(as_json.stdout)["command"] == ["train.py", "--token", "******"]
    # And every history folder is 0700 and every file 0600
    assert loose_modes(project / ".aml", skip_top=NOT_HISTORY) == []
    assert (project / ".aml" / "runs" / run_id / "outputs" / "model" / "w.bin").is_file()
    assert (project / ".aml" / "history.db-wal").exists() or True


@pytest.mark.sshd
def test_a_remote_run_leaves_private_folders_on_both_machines(project: Path, sshd: object,
                                                              umask_022: None) -> None:
    from tests.fixtures.sshd import SshServer
    assert isinstance(sshd, SshServer)
    base = Path(sshd.home) / f".aml-test-{os.urandom(4).hex()}"
    ws = Workspace(project)
    try:
        # Given a remote target (the suite's sshd) and its SSH password as a script argument
        ws.attach("remote", "vm", address=f"{sshd.host}:{sshd.port}", username=sshd.username,
                  password=sshd.password, trust_new_host_key=True,
                  remote_base_dir=f"~/{base.name}")
        write(project, "train.py", SCRIPT)
        # When a real run is submitted under umask 022 (the remote user's own umask too)
        run = ws.submit("vm", "train.py", ["--token", sshd.password])
        assert run.wait(120) is RunStatus.COMPLETED, run.record.reason
        shown = subprocess.run([sys.executable, "-m", "aml_magic", "run", "show", run.id],
                               cwd=project, capture_output=True, text=True, check=True,
                               env=dict(os.environ, PYTHONPATH=str(REPO)))
        # Then the run got the password, and neither the history nor what is shown holds it
        log = (project / ".aml" / "runs" / run.id / "log.txt").read_text()
        assert hashlib.sha256(sshd.password.encode()).hexdigest() in log
        assert sshd.password not in log
        assert holding(project / ".aml", sshd.password) == []
        assert sshd.password not in shown.stdout and "--token ******" in shown.stdout
        # And the folders are private here and on the remote
        assert loose_modes(project / ".aml", skip_top=NOT_HISTORY) == []
        remote_run = base / "runs" / run.id
        assert remote_run.is_dir()
        assert loose_modes(remote_run) == []
        assert holding(remote_run, sshd.password) == []
    finally:
        ws.close()
        subprocess.run(["rm", "-rf", str(base)], check=False)
