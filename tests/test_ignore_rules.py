"""Remembered ignore decisions: a snapshot of an unchanged project needs no gitignore matcher,
and what it leaves out is always what the ignore files say now."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from aml_magic.domain.snapshot.manifest import hash_cache_path, take_snapshot

FILES = ("train.py", "data/a.csv", "data/big.bin", "data/keep.bin", "logs/run.log",
         "outputs/model.pkl", "src/pkg/mod.py", "src/pkg/mod.pyc", "src/notes.tmp")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    for rel in FILES:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rel)
    (root / ".gitignore").write_text("*.pyc\nlogs/\n*.bin\n!keep.bin\n")
    (root / ".amlignore").write_text("outputs/\n")
    (root / "src" / ".gitignore").write_text("*.tmp\n")
    return root


def test_remembered_decisions_give_what_the_matcher_gives(project: Path) -> None:
    # Given the files a snapshot keeps when every decision is made by the matcher
    fresh = list(take_snapshot(project, use_cache=False).files)
    assert fresh == [".amlignore", ".gitignore", "data/a.csv", "data/keep.bin", "src/.gitignore",
                     "src/pkg/mod.py", "train.py"]
    # When snapshots are taken with the decision cache, first filling it, then reading it
    first = list(take_snapshot(project).files)
    hashes = hash_cache_path(project)      # in the user's cache folder, beside the hashes
    assert hashes is not None and hashes.with_name("ignored.json").is_file()
    second = list(take_snapshot(project).files)
    # Then all three agree
    assert first == fresh and second == fresh


def test_an_edited_ignore_file_is_obeyed_at_once(project: Path) -> None:
    # Given a snapshot that remembered its decisions
    take_snapshot(project)
    gitignore = project / ".gitignore"
    stat = gitignore.stat()
    # When .gitignore is edited to text of the same length, timestamps put back
    gitignore.write_text("*.pyc\nlogs/\n*.csv\n!keep.bin\n")
    os.utime(gitignore, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    files = list(take_snapshot(project).files)
    # Then the new rules decide: .bin files are back, .csv files are out
    assert "data/a.csv" not in files
    assert "data/big.bin" in files and "data/keep.bin" in files


def test_a_new_file_is_decided_by_the_rules(project: Path) -> None:
    take_snapshot(project)
    (project / "data" / "new.bin").write_text("n")
    (project / "data" / "new.csv").write_text("n")
    files = take_snapshot(project).files
    assert "data/new.csv" in files and "data/new.bin" not in files


def test_an_unchanged_project_is_snapshotted_without_the_matcher(project: Path) -> None:
    # Given a project snapshotted once
    code = ("import sys; from aml_magic.domain.snapshot.manifest import take_snapshot; "
            f"m = take_snapshot({str(project)!r}); print(len(m.files), 'pathspec' in sys.modules)")
    root = Path(__file__).resolve().parents[1]
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, cwd=root)
    # When a new process snapshots it again
    second = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=root)
    # Then the first needed pathspec, the second did not, and both kept the same files
    assert first.stdout.split() == ["7", "True"]
    assert second.stdout.split() == ["7", "False"]


def test_a_process_that_lives_on_reads_the_decisions_file_once(project: Path,
                                                               monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    # Given a project snapshotted once in this process (unwatched: a watched project skips the
    # walk, and with it the decisions)
    from aml_magic.domain.snapshot import ignore_rules
    from aml_magic.domain.snapshot.manifest import forget_watches
    forget_watches()
    take_snapshot(project)
    reads: list[Path] = []
    real_read_text = Path.read_text

    def counting(self: Path, *args: object, **kwargs: object) -> str:
        if self.name == "ignored.json":
            reads.append(self)
        return real_read_text(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_text", counting)
    # When it is snapshotted again, Then the decisions come from memory
    assert list(take_snapshot(project).files) == list(take_snapshot(project, use_cache=False).files)
    assert reads == []
    # And without that memory (a new process), the file is read again
    ignore_rules.IgnoreDecisions._memory.clear()
    forget_watches()
    take_snapshot(project)
    assert len(reads) == 1


def test_the_combined_matcher_decides_exactly_as_pathspec() -> None:
    """The one-regex filter in front of pathspec only ever skips paths no pattern matches:
    every decision equals pathspec's own, negations and folder rules included."""
    import itertools

    import pathspec

    from aml_magic.domain.snapshot.ignore_rules import _Matcher
    texts = ["*.pyc\n__pycache__/\n", "!keep.pyc\n*.pyc\n", "*.pyc\n!keep.pyc\n",
             "/outputs/\n/logs/\n", "data/*.tmp\n!data/x.tmp\n", "**/build\nsrc/**/gen/\n",
             "# comment\n\n  \nnotes.txt\n", "*\n!*.py\n!*/\n", "a[bc]?.txt\nweird\\ name\n",
             "dir/\n!dir/keep\n", "", "ünïcode/\n*.bin\n"]
    names = ["a.py", "a.pyc", "keep.pyc", "x/keep.pyc", "__pycache__/", "x/__pycache__/m.pyc",
             "outputs/", "outputs/m.txt", "x/outputs/", "logs/", "data/x.tmp", "data/y.tmp",
             "data/sub/z.tmp", "build", "a/b/build", "src/gen/", "src/a/gen/", "notes.txt",
             "doc/notes.txt", "abz.txt", "acz.txt", "weird name", "dir/", "dir/keep",
             "dir/other", "ünïcode/", "ünïcode/f.bin", "f.bin", "src/", "deep/er/x.py"]
    for text, name in itertools.product(texts, names):
        spec = pathspec.GitIgnoreSpec.from_lines(text.splitlines())
        assert _Matcher(spec).include(name) == spec.check_file(name).include, (text, name)
