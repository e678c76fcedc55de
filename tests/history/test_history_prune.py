"""``aml history prune``: a dry run lists ended runs with their sizes; ``--yes`` removes exactly
those run folders and records (sizes checked against ``du``), nothing else."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests._project import aml, write


def _du(paths: list[Path]) -> int:
    out = subprocess.run(["du", "-s", "--block-size=1", *map(str, paths)], check=True,
                         capture_output=True, text=True).stdout
    return sum(int(line.split()[0]) for line in out.splitlines())


def _ids(project: Path) -> list[str]:
    return [str(r["run_id"]) for r in json.loads(aml("run", "list", "-o", "json",
                                                      cwd=project).stdout)]


def test_prune_frees_exactly_what_it_lists(project: Path) -> None:
    write(project, "big.py", "import os, sys\nos.makedirs('outputs', exist_ok=True)\n"
          "open('outputs/blob.bin', 'wb').write(os.urandom(int(sys.argv[1])))\n"
          "sys.exit(int(sys.argv[2]))\n")
    for size, code in (("200000", "0"), ("300000", "5"), ("50000", "0"), ("70000", "0")):
        aml("experiment", "submit", "-c", "local", "big.py", size, code, "--wait",
            cwd=project, check=False)
    newest_first = _ids(project)
    assert len(newest_first) == 4
    runs = project / ".aml" / "runs"

    failed = json.loads(aml("history", "prune", "--status", "Failed", "-o", "json",
                            cwd=project).stdout)
    assert [r["run_id"] for r in failed["runs"]] == [newest_first[2]]
    assert failed["removed"] is False

    plan = aml("history", "prune", "--keep-last", "2", "-o", "json", cwd=project)
    listed = json.loads(plan.stdout)
    chosen = [str(r["run_id"]) for r in listed["runs"]]
    assert chosen == newest_first[2:]
    assert "would remove 2 run(s)" in plan.stderr and "--yes" in plan.stderr
    folders = [runs / run_id for run_id in chosen]
    assert all(f.is_dir() for f in folders)          # the dry run removed nothing
    assert listed["total_bytes"] == _du(folders) == sum(r["bytes"] for r in listed["runs"])
    assert listed["total_bytes"] > 500_000

    done = aml("history", "prune", "--keep-last", "2", "--yes", "-o", "json", cwd=project)
    assert json.loads(done.stdout)["total_bytes"] == listed["total_bytes"]
    assert not any(f.exists() for f in folders)
    assert _ids(project) == newest_first[:2]
    assert all((runs / run_id).is_dir() for run_id in newest_first[:2])

    table = aml("history", "prune", "--older-than", "0s", cwd=project)
    assert all(run_id in table.stdout for run_id in newest_first[:2])
    assert "would remove 2 run(s)" in table.stderr


def test_prune_needs_a_filter_and_refuses_live_statuses(project: Path) -> None:
    bare = aml("history", "prune", cwd=project, check=False)
    assert bare.returncode == 2 and "--older-than" in bare.stderr
    live = aml("history", "prune", "--status", "Running", cwd=project, check=False)
    assert live.returncode == 2 and "not an end state" in live.stderr
    age = aml("history", "prune", "--older-than", "soon", cwd=project, check=False)
    assert age.returncode == 2 and "30d" in age.stderr
