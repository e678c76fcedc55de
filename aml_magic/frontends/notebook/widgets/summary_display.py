"""The run display without ipywidgets: a static summary (text/plain and text/html) that is
shown once and replaced in place (``update_display``) when the run ends, so what a saved
notebook or a plain front end keeps says the final status, never a stale "Running"."""
from __future__ import annotations

from typing import TYPE_CHECKING

from aml_magic.frontends.notebook.widgets._render import RunSummary
from aml_magic.frontends.notebook.widgets._snapshot import RunSnapshot
from aml_magic.frontends.notebook.widgets._watcher import RunWatcher

if TYPE_CHECKING:
    from IPython.display import DisplayHandle

    from aml_magic.service.run import Run


class LiveSummary:
    """A shown ``RunSummary`` and the watcher that replaces it with the final one."""

    def __init__(self, run: Run, *, interval: float = 0.25) -> None:
        self.run = run
        self.watcher = RunWatcher(run, on_update=self._on_update, interval=interval)
        self.summary = RunSummary(self.watcher.poll_once())
        self.display_handle: DisplayHandle | None = None

    def show(self) -> None:
        """Display the summary; follow the run in a thread unless it has ended already."""
        from IPython.display import display
        self.display_handle = display(self.summary, display_id=True)
        if not self.summary.snapshot.is_terminal:
            self.watcher.start()

    def _on_update(self, snap: RunSnapshot) -> None:
        if snap.is_terminal:
            self._publish(snap)

    def _publish(self, snap: RunSnapshot) -> None:
        self.summary.snapshot = snap
        if self.display_handle is not None:
            self.display_handle.update(self.summary)

    def settle(self) -> None:
        """For a cell that waited for the run: publish the final summary from the cell's own
        thread (see ``RunWidget.settle``)."""
        self.watcher.stop()
        snap = self.watcher.poll_once()
        self._publish(snap)

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        return self.summary._repr_mimebundle_(include, exclude)


def show_summary(run: Run, *, interval: float = 0.25) -> LiveSummary:
    """Display a summary of ``run`` that turns final when the run ends; return it."""
    live = LiveSummary(run, interval=interval)
    live.show()
    return live
