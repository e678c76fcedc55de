"""The live run widget: header with status badge and elapsed time, log tail, metrics with
sparklines, masked environment, outputs, and a Cancel button.

It observes a ``Run`` through a :class:`RunWatcher` thread and never opens a connection itself.
Its display bundle carries a text/plain and text/html summary besides the widget view, so
nbconvert and plain terminals still show something readable. That bundle is what a saved
notebook keeps, so once the run ends it is published again (``update_display`` on the display
id the widget was shown with): a saved notebook never says "Running" for a finished run.
"""
from __future__ import annotations

import threading
from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from aml_magic.frontends.notebook.widgets._render import (
    build_html, environment_html, header_html, log_html, metrics_html, outputs_html, summary_html,
    summary_text
)
from aml_magic.frontends.notebook.widgets._snapshot import RunSnapshot
from aml_magic.frontends.notebook.widgets._watcher import RunWatcher
from aml_magic.frontends.notebook.widgets.output_images import ImageGallery

if TYPE_CHECKING:
    from IPython.display import DisplayHandle

    from aml_magic.service.run import Run

TAB_TITLES = ("Log", "Metrics", "Environment", "Outputs")


class RunWidget(w.VBox):
    """One run, kept current from a background thread at most every ``interval`` seconds."""

    def __init__(self, run: Run, *, interval: float = 0.25, start: bool = True) -> None:
        self.run = run
        self.watcher = RunWatcher(run, on_update=self._apply, interval=interval)
        self.header = w.HTML()
        self.cancel_button = w.Button(description="Cancel", icon="stop", button_style="danger",
                                      tooltip="Stop the run on its target",
                                      layout=w.Layout(width="auto"))
        self.cancel_button.on_click(self._on_cancel)
        self.log_view = w.HTML()
        self.full_log_button = w.Button(description="show full log", layout=w.Layout(width="auto"))
        self.full_log_button.on_click(self._on_full_log)
        self.full_log_view = w.HTML(layout=w.Layout(display="none"))
        self.metrics_view = w.HTML()
        self.environment_view = w.HTML()
        self.outputs_view = w.HTML()
        self.images = ImageGallery(run)
        log_box = w.VBox([self.log_view, self.full_log_button, self.full_log_view])
        self.tabs = w.Tab(children=[log_box, self.metrics_view, self.environment_view,
                                    w.VBox([self.outputs_view, self.images])])
        for index, title in enumerate(TAB_TITLES):
            self.tabs.set_title(index, title)
        super().__init__([w.HBox([self.header, self.cancel_button],
                                 layout=w.Layout(justify_content="space-between",
                                                 align_items="center")),
                          self.tabs])
        self.add_class("aml-run-widget")
        #: set by ``show_run``: where the widget's bundle was shown, to publish the final one
        self.display_handle: DisplayHandle | None = None
        self._final_published = False
        self._publish_lock = threading.Lock()
        self._apply(self.watcher.poll_once(refresh=False))
        if start:
            self.start()

    @property
    def snapshot(self) -> RunSnapshot:
        assert self.watcher.last is not None
        return self.watcher.last

    def start(self) -> None:
        """Begin following the run (no-op once it is terminal)."""
        if not self.snapshot.is_terminal:
            self.watcher.start()

    def stop(self) -> None:
        self.watcher.stop()

    def close(self) -> None:
        self.watcher.stop()
        super().close()

    # -- rendering ----------------------------------------------------------------------------
    def _apply(self, snap: RunSnapshot) -> None:
        """Push a snapshot into the child widgets; traitlets send only values that changed."""
        self.header.value = header_html(snap)
        self.log_view.value = build_html(snap) + log_html(snap.log_tail,
                                                          truncated=snap.log_truncated)
        self.metrics_view.value = metrics_html(snap.metrics)
        self.environment_view.value = environment_html(snap.environment)
        self.outputs_view.value = outputs_html(snap.outputs)
        self.images.update(self.watcher.outputs)
        if snap.is_terminal:
            self.cancel_button.disabled = True
            self.cancel_button.description = snap.status.value
            self.cancel_button.button_style = ""
        if self.full_log_view.layout.display != "none" and snap.is_terminal:
            self.full_log_view.value = log_html(self.watcher.full_log(), max_height=600)
        if snap.is_terminal:
            self.publish_final()

    def publish_final(self, *, again: bool = False) -> None:
        """Publish the display bundle once more, with the run's final status in its text/plain
        and text/html fallbacks (the widget view itself is unchanged). Once per widget unless
        ``again``."""
        handle = self.display_handle
        if handle is None:
            return
        with self._publish_lock:
            if self._final_published and not again:
                return
            self._final_published = True
        handle.update(self)

    def settle(self) -> None:
        """For a cell that waited for the run: read the final state in the cell's own thread
        and publish it there, so the update is part of the cell's output before it ends (the
        watcher thread's update may come after the front end stopped listening to the cell)."""
        snap = self.watcher.poll_once()
        self._apply(snap)
        if snap.is_terminal:
            self.publish_final(again=True)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        data = super()._repr_mimebundle_(**kwargs)
        if data is None:
            return None
        snap = self.snapshot
        data["text/plain"] = summary_text(snap)
        data["text/html"] = summary_html(snap)
        return data

    # -- buttons ------------------------------------------------------------------------------
    def _on_full_log(self, _button: w.Button) -> None:
        if self.full_log_view.layout.display == "none":
            self.full_log_view.value = log_html(self.watcher.full_log(), max_height=600)
            self.full_log_view.layout.display = "block"
            self.full_log_button.description = "hide full log"
        else:
            self.full_log_view.layout.display = "none"
            self.full_log_view.value = ""
            self.full_log_button.description = "show full log"

    def _on_cancel(self, _button: w.Button) -> None:
        """Cancel off the kernel's main thread: it may have to reach a remote target."""
        self.cancel_button.disabled = True
        self.cancel_button.description = "Canceling…"

        def cancel() -> None:
            try:
                self.run.cancel()
            except Exception as err:  # noqa: BLE001 - shown in the header, never raised
                self.header.value = header_html(self.snapshot) + (
                    f'<div style="color:#dc3545">cancel failed: {escape(str(err))}</div>')
                self.cancel_button.disabled = False
                self.cancel_button.description = "Cancel"
            self.watcher.start()

        threading.Thread(target=cancel, name=f"aml-cancel-{self.run.id}", daemon=True).start()


def show_run(run: Run, *, interval: float = 0.25) -> RunWidget:
    """Display a live widget for ``run`` in the current output and return it."""
    from IPython.display import display

    widget = RunWidget(run, interval=interval, start=False)
    widget.display_handle = display(widget, display_id=True)
    widget.start()
    return widget
