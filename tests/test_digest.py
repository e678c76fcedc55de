"""``digest.py``'s sha256 gives hashlib's digests whichever implementation it picks, and the
run copy's ``_copy_file`` copies like ``shutil.copyfile`` and refuses what is not a file."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from aml_magic.domain import digest
from aml_magic.domain.snapshot.ship import _copy_file


@pytest.mark.parametrize("size", [0, 1, 1000, digest.LOAD_PAYS + 1])
def test_sha256_matches_hashlib(size: int) -> None:
    data = os.urandom(size)
    assert digest.sha256_hex(data) == hashlib.sha256(data).hexdigest()
    h = digest.sha256(size)
    h.update(data[:size // 2])
    h.update(data[size // 2:])
    assert h.hexdigest() == hashlib.sha256(data).hexdigest()


def test_short_data_uses_the_builtin_until_hashlib_is_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an interpreter with its builtin sha256 (CPython's default build)
    assert digest._builtin is not None
    # When hashlib is not loaded, short data gets the builtin; large data and a loaded
    # hashlib get OpenSSL's
    monkeypatch.delitem(__import__("sys").modules, "hashlib")
    assert type(digest.sha256(10)) is type(digest._builtin())
    monkeypatch.undo()
    assert type(digest.sha256(10)) is type(hashlib.sha256())


def test_copy_file_copies_contents_and_follows_a_link(tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    data = os.urandom(3 << 20)
    src.write_bytes(data)
    (tmp_path / "link").symlink_to(src)
    (tmp_path / "dst").write_bytes(b"older and longer" * 1000000)
    _copy_file(tmp_path / "link", tmp_path / "dst")
    assert (tmp_path / "dst").read_bytes() == data
    (tmp_path / "empty-src").touch()
    _copy_file(tmp_path / "empty-src", tmp_path / "empty-dst")
    assert (tmp_path / "empty-dst").read_bytes() == b""


def test_copy_file_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(OSError, match="not a regular file"):
        _copy_file(tmp_path / "fifo", tmp_path / "dst")
    assert not (tmp_path / "dst").exists()
