"""A damaged ``history.db`` (truncated, overwritten with garbage, another program's SQLite
file) gives one line naming the file; ``aml history repair`` keeps it aside and rebuilds the
history from the run folders: status, exit code, command, metrics, outputs."""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from tests._project import aml, write
from tests.fixtures.sshd import SshServer

SCRIPT = """\
import os, sys
from azureml.logging import get_azureml_logger
log = get_azureml_logger()
for i in range(3):
    log.log("loss", 1.0 / (i + 1))
os.makedirs("outputs", exist_ok=True)
open("outputs/model.txt", "w").write("weights " * 100)
sys.exit(int(sys.argv[1]))
"""


def _truncate(db: Path) -> None:
    size = db.stat().st_size
    with open(db, "r+b") as fh:
        fh.truncate(size // 2)


def _garbage(db: Path) -> None:
    db.write_bytes(b"\x00garbage, not SQLite\xff" * 500)


def _foreign(db: Path) -> None:
    db.unlink()
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE songs (title TEXT, artist TEXT)")
    conn.execute("INSERT INTO songs VALUES ('a', 'b')")
    conn.commit()
    conn.close()


def _runs_json(project: Path) -> list[dict[str, object]]:
    return json.loads(aml("run", "list", "-o", "json", cwd=project).stdout)


@pytest.mark.parametrize("damage", [_truncate, _garbage, _foreign],
                         ids=["truncated", "garbage", "foreign-sqlite"])
def test_damaged_history_one_line_then_repair(project: Path,
                                              damage: Callable[[Path], None]) -> None:
    write(project, "train.py", SCRIPT)
    aml("experiment", "submit", "-c", "local", "train.py", "0", "--wait", cwd=project)
    aml("experiment", "submit", "-c", "local", "train.py", "3", "--wait", cwd=project,
        check=False)
    before = _runs_json(project)
    details = {r["run_id"]: json.loads(aml("run", "show", str(r["run_id"]), "-o", "json",
                                           cwd=project).stdout) for r in before}
    db = project / ".aml" / "history.db"
    conn = sqlite3.connect(db)                 # fold the WAL in: the damage hits the data
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    damage(db)
    damaged_bytes = db.read_bytes()

    broken = aml("run", "list", cwd=project, check=False)
    assert broken.returncode == 2
    assert "Traceback" not in broken.stderr
    assert len(broken.stderr.strip().splitlines()) == 1, broken.stderr
    assert str(db) in broken.stderr and "aml history repair" in broken.stderr

    repaired = aml("history", "repair", cwd=project)
    assert "rebuilt 2 run(s)" in repaired.stdout
    aside = [p for p in db.parent.glob("history.db.damaged-*")
             if not p.name.endswith(("-wal", "-shm"))]
    assert len(aside) == 1 and aside[0].read_bytes() == damaged_bytes   # kept, untouched

    after = _runs_json(project)
    assert [(r["run_id"], r["status"], r["exit_code"]) for r in after] == \
        [(r["run_id"], r["status"], r["exit_code"]) for r in before]
    for run_id, old in details.items():
        new = json.loads(aml("run", "show", str(run_id), "-o", "json", cwd=project).stdout)
        for key in ("command", "target", "run_configuration", "metrics", "outputs"):
            assert new[key] == old[key], key
        assert len(new["metrics"]) > 0 or len(old["metrics"]) == 0


def test_repair_rebuilds_a_folder_without_record_as_failed(project: Path) -> None:
    write(project, "ok.py", "print('ok')\n")
    aml("experiment", "submit", "-c", "local", "ok.py", "--wait", cwd=project)
    stray = project / ".aml" / "runs" / "proj_0000000000001_abcd"
    stray.mkdir(parents=True)
    aml("history", "repair", "--force", cwd=project)
    runs = {r["run_id"]: r for r in _runs_json(project)}
    assert runs[stray.name]["status"] == "Failed"
    assert len(runs) == 2


def test_repair_leaves_a_healthy_history_alone(project: Path) -> None:
    write(project, "ok.py", "print('ok')\n")
    aml("experiment", "submit", "-c", "local", "ok.py", "--wait", cwd=project)
    out = aml("history", "repair", cwd=project)
    assert "healthy" in out.stdout
    assert not list((project / ".aml").glob("history.db.damaged-*"))


def test_lost_history_with_run_folders_is_refused_until_repaired(project: Path) -> None:
    write(project, "ok.py", "print('ok')\n")
    aml("experiment", "submit", "-c", "local", "ok.py", "--wait", cwd=project)
    before = _runs_json(project)
    for name in ("history.db", "history.db-wal", "history.db-shm"):
        (project / ".aml" / name).unlink(missing_ok=True)
    lost = aml("run", "list", cwd=project, check=False)
    assert lost.returncode == 2 and "missing or empty" in lost.stderr
    aml("history", "repair", cwd=project)
    assert [r["run_id"] for r in _runs_json(project)] == [r["run_id"] for r in before]


def test_repair_restores_metrics_of_a_remote_run(project: Path, sshd: SshServer) -> None:
    """A remote run's agent writes its metrics on the remote; the local run folder keeps a
    copy as they are stored, so a rebuilt history has them too."""
    import os
    import subprocess

    from aml_magic.service.workspace import Workspace
    base = Path(sshd.home) / f".aml-test-{os.urandom(4).hex()}"
    ws = Workspace(project)
    try:
        ws.attach("remote", "vm", address=f"{sshd.host}:{sshd.port}", username=sshd.username,
                  password=sshd.password, trust_new_host_key=True,
                  remote_base_dir=f"~/{base.name}")
        write(project, "train.py", SCRIPT)
        run = ws.submit("vm", "train.py", ["0"])
        assert run.wait(timeout=120).value == "Completed"
        before = [(m.name, m.step, m.value) for m in run.metrics()]
        assert len(before) == 3
    finally:
        ws.close()
        subprocess.run(["rm", "-rf", str(base)], check=False)
    aml("history", "repair", "--force", cwd=project)
    shown = json.loads(aml("run", "show", run.id, "-o", "json", cwd=project).stdout)
    assert [(m["name"], m["step"], m["value"]) for m in shown["metrics"]] == before
