"""The CLI process's garbage collector: ``main`` pauses it for start-up; a verb that then waits
or streams for long resumes it."""
from __future__ import annotations

import gc


def settle_memory() -> None:
    """Before waiting or streaming for long: resume garbage collection, skipping what start-up
    created (frozen: it lives until exit anyway). Only where ``main`` paused it."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()
