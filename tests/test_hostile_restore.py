"""``aml project restore`` and a run that rewrote its ``manifest.json`` (issue 23, finding 3).

The run folder's manifest is the run's to write (read-write in a container). A real run
rewrites it to add ``.git/hooks/post-checkout`` (mode 4755, content planted in its work copy
so a source with the right hash exists) and ``../escape``; restore uses the history's own
copy, kept at submit in ``.aml/manifests/``, and writes neither. Before the fix, restore
wrote the hook (which git runs at the next checkout) and a file outside the project.

Restore's own rules are checked too, whatever manifest it is given: only paths inside the
destination, never ``.git/`` or ``.aml/``, never through a symbolic link, modes 0644/0755;
files it would overwrite are listed and asked about (non-interactive: refused in one line
unless ``--yes``).
"""
from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from aml_magic.domain.snapshot.manifest import FileEntry, Manifest
from aml_magic.errors import AmlError
from aml_magic.service.restore import apply_restore, plan_restore
from tests._project import aml, write

REWRITER = r'''
import hashlib, json, os, sys
run = os.path.dirname(os.getcwd())
hook = b"#!/bin/sh\necho owned > /tmp/owned\n"
os.makedirs(".git/hooks", exist_ok=True)           # in its work copy: a source with that hash
with open(".git/hooks/post-checkout", "wb") as fh:
    fh.write(hook)
os.makedirs("../escape-src", exist_ok=True)
with open("escape", "wb") as fh:
    fh.write(b"outside")
with open(os.path.join(run, "manifest.json")) as fh:
    data = json.load(fh)
sha = hashlib.sha256(hook).hexdigest()
data["files"][".git/hooks/post-checkout"] = {"sha256": sha, "size": len(hook), "mode": 0o4755}
if sys.argv[1] == "both":
    data["files"]["../escape"] = {"sha256": hashlib.sha256(b"outside").hexdigest(), "size": 7,
                                  "mode": 0o755}
data["files"]["train.py"]["mode"] = 0o4777
with open(os.path.join(run, "manifest.json"), "w") as fh:
    json.dump(data, fh)
print("rewritten", flush=True)
'''


@pytest.mark.parametrize("planted", ["hook", "both"])
def test_restore_ignores_a_manifest_the_run_rewrote(project: Path, planted: str) -> None:
    # Given a git project and a real run that rewrote its run folder's manifest.json: a git
    # hook with mode 4755 (and, in "both", a file outside the project)
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    write(project, "train.py", REWRITER)
    aml("experiment", "submit", "-c", "local", "train.py", planted, cwd=project)
    [folder] = (project / ".aml" / "runs").iterdir()
    assert ".git/hooks/post-checkout" in (folder / "manifest.json").read_text()
    # When the project is restored from that run (into itself, then into a fresh folder)
    write(project, "train.py", "print('edited since')\n")
    restored = aml("project", "restore", "--run-id", folder.name, "--yes", cwd=project)
    copy = project.parent / "copy"
    aml("project", "restore", "--run-id", folder.name, "-d", str(copy), cwd=project)
    # Then neither the hook nor the file outside was written, in either place
    for dest in (project, copy):
        assert not (dest / ".git" / "hooks" / "post-checkout").exists()
        assert not (dest.parent / "escape").exists()
        # And the genuine file is back, with a plain mode
        assert (dest / "train.py").read_text() == REWRITER
        assert stat.S_IMODE((dest / "train.py").stat().st_mode) == 0o644
    assert "1 file(s) written" in restored.stdout


def _manifest(files: dict[str, tuple[bytes, int]]) -> Manifest:
    import hashlib
    return Manifest({rel: FileEntry(hashlib.sha256(data).hexdigest(), len(data), mode)
                     for rel, (data, mode) in files.items()})


def _work(run_folder: Path, files: dict[str, tuple[bytes, int]]) -> None:
    for rel, (data, _mode) in files.items():
        path = run_folder / "work" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


@pytest.mark.parametrize("rel", [".git/hooks/post-checkout", "sub/.git/config", "a/../../x"])
def test_restore_refuses_paths_outside_the_projects_own_files(tmp_path: Path, rel: str) -> None:
    # Given a manifest naming a path restore must not write, and content for it
    files = {"ok.py": (b"print(1)\n", 0o644), rel: (b"#!/bin/sh\n", 0o755)}
    run, dest = tmp_path / "run", tmp_path / "dest"
    dest.mkdir()
    _work(run, {"ok.py": files["ok.py"]})
    _work(dest / "work-of-other-run", {rel: files[rel]})   # its content exists somewhere
    # When restore plans it, Then it refuses in one line naming the path, writing nothing
    with pytest.raises(AmlError, match="must not write") as refused:
        plan_restore(_manifest(files), run_folder=run, dest=dest,
                     other_work_copies=[dest / "work-of-other-run" / "work"])
    assert rel in str(refused.value) and "\n" not in str(refused.value)
    assert [p.name for p in dest.iterdir()] == ["work-of-other-run"]


def test_restore_never_writes_through_a_link_and_clamps_modes(tmp_path: Path) -> None:
    # Given a destination whose sub/ is a link to a folder outside it, and set-id modes
    outside = tmp_path / "outside"
    outside.mkdir()
    run, dest = tmp_path / "run", tmp_path / "dest"
    dest.mkdir()
    files = {"sub/x.py": (b"x\n", 0o644), "run.sh": (b"#!/bin/sh\n", 0o6777),
             "data.txt": (b"d\n", 0o666)}
    _work(run, files)
    os.symlink(outside, dest / "sub")
    with pytest.raises(AmlError, match="symbolic link"):
        plan_restore(_manifest(files), run_folder=run, dest=dest, other_work_copies=[])
    assert list(outside.iterdir()) == []
    # When the link is gone, Then the files are written with 0755/0644 only
    (dest / "sub").unlink()
    manifest = _manifest(files)
    plan = plan_restore(manifest, run_folder=run, dest=dest, other_work_copies=[])
    assert apply_restore(manifest, plan, dest) == 3
    modes = {rel: stat.S_IMODE((dest / rel).stat().st_mode) for rel in files}
    assert modes == {"sub/x.py": 0o644, "run.sh": 0o755, "data.txt": 0o644}


def test_restore_asks_before_overwriting(project: Path) -> None:
    # Given a run of t.py, then t.py edited and a new file of the same name in a subfolder
    write(project, "t.py", "print('v1')\n")
    aml("experiment", "submit", "-c", "local", "t.py", cwd=project)
    [folder] = (project / ".aml" / "runs").iterdir()
    write(project, "t.py", "print('v2')\n")
    # When restore runs without a terminal and without --yes
    refused = aml("project", "restore", "--run-id", folder.name, cwd=project, check=False,
                  stdin=subprocess.DEVNULL)
    # Then it refuses in one line naming the file, and nothing was written
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "t.py" in refused.stderr
    assert "--yes" in refused.stderr
    assert (project / "t.py").read_text() == "print('v2')\n"
    # And on a terminal, it lists the file and asks; "n" writes nothing, "y" restores
    for answer, expected in (("n", "print('v2')\n"), ("y", "print('v1')\n")):
        shown = _on_terminal(["project", "restore", "--run-id", folder.name], project, answer)
        assert "t.py" in shown and "Overwrite them?" in shown
        assert (project / "t.py").read_text() == expected


def _on_terminal(args: list[str], cwd: Path, answer: str) -> str:
    """Run ``aml ARGS`` on a pseudo-terminal, answer its question, return what it printed."""
    import pty

    from tests._project import AML
    leader, follower = pty.openpty()
    repo = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([*AML, *args], cwd=cwd, stdin=follower, stdout=follower,
                            stderr=follower, env=dict(os.environ, PYTHONPATH=str(repo)))
    os.close(follower)
    out = b""
    try:
        while b"[y/N]" not in out:
            chunk = os.read(leader, 4096)
            if not chunk:
                break
            out += chunk
        os.write(leader, answer.encode() + b"\n")
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    finally:
        proc.wait(timeout=60)
        os.close(leader)
    return out.decode(errors="replace")
