"""The server's background reconciler: every few seconds, the non-terminal runs of the projects
the server has seen are brought up to date (state, log, metrics, outputs) while nobody watches.

The tick runs on the event loop but only hands the work to the service's thread pool (SSH and
Docker calls block); a pass still going when the next tick comes makes that tick a no-op, so a
slow target never piles up passes.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future

from tornado.ioloop import PeriodicCallback

from aml_magic.service.api import AmlService

#: Seconds between two passes (``AML_MAGIC_RECONCILE_SECONDS`` overrides it).
DEFAULT_INTERVAL = 2.0

log = logging.getLogger(__name__)


class Reconciler:
    """A periodic pass over every active run; ``stop`` ends it (a pass in flight finishes)."""

    def __init__(self, service: AmlService, interval: float = DEFAULT_INTERVAL, *,
                 on_first_pass: Callable[[int], None] | None = None,
                 after_pass: Callable[[], object] | None = None) -> None:
        self.service = service
        self.after_pass = after_pass         # the team server mirrors its runs to PostgreSQL
        self.interval = interval
        self.passes = 0
        self.on_first_pass = on_first_pass   # told how many runs the first pass reconciled
        self._pending: Future[int] | None = None
        self._callback = PeriodicCallback(self._tick, interval * 1000.0)

    def start(self) -> None:
        self._callback.start()

    def stop(self) -> None:
        self._callback.stop()

    @property
    def running(self) -> bool:
        return self._callback.is_running()

    def _tick(self) -> None:
        if self._pending is not None and not self._pending.done():
            return
        try:
            self._pending = self.service.executor.submit(self._pass)
        except RuntimeError:          # the pool was shut down: the server is stopping
            self.stop()

    def _pass(self) -> int:
        count = 0
        try:
            count = self.service.reconcile_all()
            if self.after_pass is not None:
                self.after_pass()
            return count
        except Exception:  # noqa: BLE001 - one bad pass must not end the reconciler
            log.exception("aml_magic: reconciling active runs failed")
            return 0
        finally:
            self.passes += 1
            if self.passes == 1 and self.on_first_pass is not None:
                self.on_first_pass(count)
