"""``aml init`` in an existing (Workbench) project: ignore entries are appended, never rewritten,
and the snapshot leaves the project's own outputs/ and logs/ out unless re-included."""
from __future__ import annotations

import os
from pathlib import Path

from aml_magic import Workspace
from aml_magic.domain.history.status import RunStatus
from aml_magic.service.project_adopt import init_or_adopt
from aml_magic.domain.snapshot.manifest import take_snapshot
from tests._project import aml, write

WORKBENCH_COMPUTE = "type: local\npythonLocation: python\n"


def workbench_project(root: Path) -> Path:
    """A folder as Workbench left it: aml_config/, a script, a stale output, a .gitignore."""
    write(root, "aml_config/local.compute", WORKBENCH_COMPUTE)
    write(root, "aml_config/local.runconfig", "ArgumentVector:\n  - train.py\nTarget: local\n"
                                               "Framework: Python\n")
    write(root, "train.py", "print('trained')\n")
    write(root, "outputs/stale.txt", "from a run long ago\n")
    write(root, "logs/old.log", "old\n")
    return root


def test_init_adopts_a_workbench_project_appending_only_what_is_missing(tmp_path: Path) -> None:
    # Given a Workbench project whose .gitignore has CRLF line ends, no final newline,
    # and already lists /outputs
    root = workbench_project(tmp_path / "wb")
    (root / ".gitignore").write_bytes(b"*.pyc\r\n/outputs")
    # When `aml init` runs in it
    result = aml("init", str(root), cwd=tmp_path)
    # Then it says it adopted the project and which entries it added to which file
    assert "adopted project" in result.stdout
    assert f"{root / '.gitignore'}: added .aml/, logs/" in result.stdout
    assert ".amlignore: added" not in result.stdout    # created from the template: complete
    # And the old lines are untouched, first, the new ones follow in the file's CRLF style
    gitignore = (root / ".gitignore").read_bytes()
    assert gitignore.startswith(b"*.pyc\r\n/outputs\r\n# aml_magic")
    assert gitignore.endswith(b"\r\n.aml/\r\nlogs/\r\n") and b"\n" not in gitignore.replace(
        b"\r\n", b"")
    # And the configuration it had is kept
    assert (root / "aml_config" / "local.compute").read_text() == WORKBENCH_COMPUTE
    # When init runs a second time, Then nothing is added and it says so
    before = {name: (root / name).read_bytes() for name in (".gitignore", ".amlignore")}
    again = aml("init", str(root), cwd=tmp_path)
    assert "already list" in again.stdout
    assert {name: (root / name).read_bytes() for name in before} == before


def test_a_reinclusion_counts_as_mentioned(tmp_path: Path) -> None:
    # Given an .amlignore that ships outputs/ on purpose
    root = workbench_project(tmp_path / "wb")
    (root / ".amlignore").write_text("data/\n!outputs/\n")
    # When adopted
    adoption = init_or_adopt(root)
    # Then outputs/ is not appended after the re-inclusion (it would undo it)
    assert adoption.added[".amlignore"] == [".aml/", "logs/"]
    assert (root / ".amlignore").read_text().startswith("data/\n!outputs/\n")
    # And the snapshot ships outputs/ but not logs/
    files = take_snapshot(root, use_cache=False).files
    assert "outputs/stale.txt" in files and "logs/old.log" not in files


def test_a_missing_ignore_file_is_created_and_an_existing_one_keeps_its_mode(
        tmp_path: Path) -> None:
    # Given no .gitignore and an .amlignore readable by its owner only
    root = workbench_project(tmp_path / "wb")
    (root / ".amlignore").write_text("x\n")
    os.chmod(root / ".amlignore", 0o600)
    # When adopted
    init_or_adopt(root)
    # Then .gitignore holds the three entries; .amlignore got them and kept its mode
    assert (root / ".gitignore").read_text().splitlines()[1:] == [".aml/", "outputs/", "logs/"]
    assert (root / ".amlignore").read_text().startswith("x\n# aml_magic")
    assert (root / ".amlignore").stat().st_mode & 0o777 == 0o600


def test_the_snapshot_leaves_out_top_level_outputs_and_logs_only(tmp_path: Path) -> None:
    root = workbench_project(tmp_path / "wb")
    write(root, "src/outputs/keep.py", "")       # not the top level: a package of the project
    write(root, "src/logs/keep.py", "")
    files = take_snapshot(root, use_cache=False).files
    assert "outputs/stale.txt" not in files and "logs/old.log" not in files
    assert "src/outputs/keep.py" in files and "src/logs/keep.py" in files


def test_a_local_run_does_not_report_the_projects_stale_outputs(tmp_path: Path) -> None:
    # Given an adopted project with ./outputs/stale.txt, and a script that writes nothing
    # and ignore files that do not mention outputs/ (the default alone leaves it out)
    root = workbench_project(tmp_path / "wb")
    init_or_adopt(root)
    write(root, ".amlignore", "*.pyc\n")
    write(root, ".gitignore", ".aml/\n")
    write(root, "quiet.py", "print('no outputs')\n")
    # When it runs on local
    ws = Workspace(root)
    run = ws.submit("local", "quiet.py")
    assert run.wait(timeout=60) is RunStatus.COMPLETED, run.record.reason
    # Then its outputs are empty and the run's copy has no outputs/stale.txt
    assert run.outputs() == []
    assert not (run.folder / "work" / "outputs" / "stale.txt").exists()
    ws.close()
