"""``@plain_data`` behaves as ``@dataclass`` for what the models use, and the CLI's submit path
no longer imports ``dataclasses`` (the reason it exists)."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest

from aml_magic.domain.plain_data import field, field_names, plain_data, replace


def twins(frozen: bool = False) -> tuple[Any, Any]:
    """The same class body as a real dataclass and as a plain_data class."""
    made = []
    for decorate, make_field in ((dataclasses.dataclass, dataclasses.field),
                                 (plain_data, field)):
        class Model:
            """A model."""
            kind: ClassVar[str] = "model"
            name: str
            size: int = 1
            tags: list[str] = make_field(default_factory=list)
            note: str | None = make_field(default=None, compare=False, repr=False)

            def __post_init__(self) -> None:
                object.__setattr__(self, "size", int(self.size))
        made.append(decorate(frozen=frozen)(Model))
    return made[0], made[1]


@pytest.mark.parametrize("frozen", [False, True])
def test_plain_data_builds_what_dataclass_builds(frozen: bool) -> None:
    # Given the same class as a dataclass and as plain_data
    real, plain = twins(frozen)
    # Then construction, repr, equality, hashing and defaults agree
    for cls in (real, plain):
        a = cls("x", "2", ["t"], note="n")
        assert (a.name, a.size, a.tags, a.note) == ("x", 2, ["t"], "n")
        assert repr(a).endswith("Model(name='x', size=2, tags=['t'])")
        assert a == cls("x", 2, ["t"], note="other")        # note is not compared
        assert a != cls("x", 3, ["t"])
        assert cls("y").tags == [] and cls("y").tags is not cls("y").tags
        assert cls.kind == "model" and cls.size == 1 and cls.__match_args__ == (
            "name", "size", "tags", "note")
        assert (cls.__hash__ is None) is (not frozen)
    assert not frozen or hash(real("x", 2, ("t",))) == hash(plain("x", 2, ("t",)))
    assert [f.name for f in dataclasses.fields(real)] == list(field_names(plain))


def test_plain_data_rejects_what_dataclass_rejects() -> None:
    real, plain = twins(frozen=True)
    for cls in (real, plain):
        with pytest.raises(TypeError, match="missing 1 required positional argument: 'name'"):
            cls()
        with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
            cls("x", colour=1)
        with pytest.raises(TypeError, match="multiple values for argument 'name'"):
            cls("x", name="y")
        with pytest.raises(TypeError, match="takes from 2 to 5 positional arguments but 6 were given"):
            cls("x", 1, [], None, 5)
        with pytest.raises(dataclasses.FrozenInstanceError):
            cls("x").size = 3
        with pytest.raises(dataclasses.FrozenInstanceError):
            del cls("x").size


def test_dataclasses_functions_work_on_plain_data_classes() -> None:
    # Given a plain_data instance
    _, plain = twins()
    item = plain("x", 2, ["t"], note="n")
    # Then the dataclasses module's functions treat it as a dataclass
    assert dataclasses.is_dataclass(item)
    assert [f.name for f in dataclasses.fields(item)] == ["name", "size", "tags", "note"]
    assert dataclasses.asdict(item) == {"name": "x", "size": 2, "tags": ["t"], "note": "n"}
    changed = dataclasses.replace(item, size=5)
    assert (changed.name, changed.size, changed.note) == ("x", 5, "n") and changed is not item
    assert replace(item, name="y") == plain("y", 2, ["t"])


def test_the_cli_submit_path_imports_neither_dataclasses_nor_typing_nor_subprocess(tmp_path: Path) -> None:
    # Given a project whose caches are made, when `aml experiment submit --wait` runs a
    # trivial script
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    subprocess.run([sys.executable, "-m", "aml_magic", "init", str(tmp_path / "p")], check=True,
                   env=env, stdout=subprocess.DEVNULL)
    (tmp_path / "p" / "trivial.py").write_text("x = 1\n")
    argv = [sys.executable, "-m", "aml_magic", "experiment", "submit", "-c", "local",
            "trivial.py", "--wait"]
    for _ in range(2):   # the first submits fill the project's caches (parsed config, ignores)
        subprocess.run(argv, cwd=tmp_path / "p", env=env, check=True, capture_output=True,
                       timeout=120)
    # (as the `aml` console script runs it: `-m` would load runpy, importlib and contextlib)
    script = "import sys; from aml_magic.frontends.cli.program import run; sys.exit(run())"
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", script, "experiment",
                           "submit", "-c", "local", "trivial.py", "--wait"], cwd=tmp_path / "p",
                          env=env, capture_output=True, text=True, timeout=120)
    # Then it completes, without loading the modules it does not use
    assert proc.returncode == 0, proc.stderr[-2000:]
    loaded = {line.split("|")[-1].strip() for line in proc.stderr.splitlines()
              if line.startswith("import time:")}
    assert "aml_magic.domain.history.records" in loaded
    # (typing: ~5 % of the command; keep it under `if TYPE_CHECKING:` on this path)
    assert loaded & {"dataclasses", "inspect", "subprocess", "socket", "tempfile",
                     "typing"} == set()
    # (shutil with bz2 and lzma: ~3 %, argparse's formatter and the run's copy load it unless
    # told otherwise; hashlib loads OpenSSL: ~5 %, the digests on this path are short, digest.py)
    assert loaded & {"shutil", "bz2", "lzma", "hashlib", "_hashlib"} == set()
    # (extension modules cost a dlopen each, ~0.2-0.5 ms: zlib, struct, binascii are not needed
    # here; contextlib and importlib are pure-Python packages this path has no use for)
    assert loaded & {"zlib", "_struct", "binascii", "contextlib", "importlib",
                     "encodings.utf_8_sig"} == set()
    # (the run's launcher is spawned, not forked: the agent's own modules stay out of this
    # process, frontends/cli/ahead.py)
    assert loaded & {f"aml_magic.agent.{m}" for m in (
        "_supervisor", "_prestart", "_runfiles", "_process", "_logmask")} == set()
