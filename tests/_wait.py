"""Wait on a condition with a deadline, never a fixed sleep.

Tests must not sleep "long enough" for a state nor assert wall-clock limits: both flake on a
loaded machine. :func:`wait_until` polls a condition until it is truthy and fails with a message
that says what never happened (and the last value seen) when the generous deadline passes.
"""
from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


def wait_until(condition: Callable[[], T | None], timeout: float = 30.0, message: str = "",
               *, interval: float = 0.02) -> T:
    """Call CONDITION until it returns a truthy value and return that value.

    TIMEOUT is a deadline for a broken system, not a performance claim: choose it generously.
    Raises ``AssertionError`` naming MESSAGE (or the condition) and the last value it returned.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            what = message or getattr(condition, "__name__", "condition")
            raise AssertionError(f"not within {timeout:g}s: {what} (last value: {value!r})")
        time.sleep(interval)


def process_alive(pid: int) -> bool:
    """True while PID exists and is not a zombie (an unreaped child counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except OSError:
        return False
