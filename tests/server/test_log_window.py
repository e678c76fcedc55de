"""Bounded windows of a run's log (service/log_window.py): the tail, "load earlier" and the
follow read start at a line's start, never exceed their window, and meet without a gap."""
from __future__ import annotations

from pathlib import Path

import pytest

from aml_magic.errors import ApiError
from aml_magic.service.log_window import LOG_WINDOW_MAX, read_window


def seeded(tmp_path: Path, lines: int) -> bytes:
    data = b"".join(b"line %06d %s\n" % (i, b"x" * (i % 50)) for i in range(lines))
    (tmp_path / "log.txt").write_bytes(data)
    return data


def test_tail_then_earlier_windows_rebuild_the_log_at_line_starts(tmp_path: Path) -> None:
    # Given a ~400 KB log
    data = seeded(tmp_path, 8000)
    # When its last 64 KB are read, then the 64 KB windows before it until its start
    text, start, end, done = read_window(tmp_path, str, True, tail=64 << 10)
    assert end == len(data) and done and len(text) <= 64 << 10
    assert text.startswith("line ") and data[start - 1:start] == b"\n"
    pieces = [text]
    while start > 0:
        earlier, start, stop, _ = read_window(tmp_path, str, True, before=start, limit=64 << 10)
        assert len(earlier) <= 64 << 10 and earlier.endswith("\n")
        assert start == 0 or data[start - 1:start] == b"\n"
        pieces.insert(0, earlier)
    # Then they are the log, with no gap and no overlap
    assert "".join(pieces).encode() == data


def test_follow_reads_are_bounded_and_cut_at_complete_lines(tmp_path: Path) -> None:
    data = seeded(tmp_path, 100)
    (tmp_path / "log.txt").write_bytes(data + b"partial")
    text, start, end, done = read_window(tmp_path, str, False, offset=0, limit=1000)
    assert start == 0 and end <= 1000 and text.endswith("\n") and not done
    rest, _, end2, _ = read_window(tmp_path, str, False, offset=end)
    assert (text + rest).encode() == data and end2 == len(data)   # the partial line waits
    # a huge limit is capped; a missing log is empty, not an error
    assert read_window(tmp_path, str, False, limit=1 << 40)[2] <= LOG_WINDOW_MAX
    assert read_window(tmp_path / "none", str, True, tail=100) == ("", 0, 0, True)


@pytest.mark.parametrize("window", [{"tail": 0}, {"limit": -1}, {"before": -1},
                                    {"offset": -1}, {"tail": 5, "before": 5}])
def test_bad_windows_are_refused(tmp_path: Path, window: dict[str, int]) -> None:
    with pytest.raises(ApiError):
        read_window(tmp_path, str, False, **window)
