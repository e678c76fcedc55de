"""The ``%aml_compare`` widget: the runs side by side (the table of ``aml history compare``), a
chart of a metric against an argument or another metric with one-click buttons to switch x and
y, and each run's series of a metric as lines over steps.

The charts are SVG text drawn in the kernel (``chart_svg``) and put into ``HTML`` widgets: a
click changes a traitlet, the kernel redraws, and the front end only swaps markup. Its display
bundle also carries the text table and a static HTML copy, so a saved notebook stays readable.
"""
from __future__ import annotations

from typing import Any

import ipywidgets as w

from aml_magic.frontends.notebook.widgets.compare_view import Axis, CompareModel, CompareView

#: Up to this many choices are one-click buttons; more become a drop-down list.
MAX_BUTTONS = 8
TAB_TITLES = ("Chart", "Series over steps")


def _picker(description: str, options: list[tuple[str, str]], value: str | None) -> Any:
    """ToggleButtons (one click) for a few options, a Dropdown for many."""
    kind = w.ToggleButtons if len(options) <= MAX_BUTTONS else w.Dropdown
    picker = kind(options=options, value=value, description=description,
                  disabled=not options, style={"description_width": "initial"})
    picker.add_class(f"aml-compare-{description.rstrip(':')}")
    return picker


class CompareWidget(w.VBox):
    """One comparison; ``x_picker``/``y_picker``/``series_picker`` drive the charts."""

    def __init__(self, model: CompareModel) -> None:
        self.model = model
        self.axes = {axis.key: axis for axis in model.x_choices() + model.y_choices()}
        x, y = model.default_axes()
        title = w.HTML(f"<b>Comparing {len(model.rows)} run(s)</b>")
        table = w.HTML(model.table_html())
        self.x_picker = _picker("x:", [(a.label, a.key) for a in model.x_choices()],
                                x.key if x else None)
        self.y_picker = _picker("y:", [(a.label, a.key) for a in model.y_choices()],
                                y.key if y else None)
        self.log_x = w.ToggleButton(value=model.log_by_default(x), description="log x",
                                    tooltip="a log scale for x (on by itself when x spans "
                                            "more than two decades)",
                                    layout=w.Layout(width="auto"))
        self.log_x.add_class("aml-compare-log-x")
        self.scatter_view = w.HTML()
        self.scatter_view.add_class("aml-compare-scatter")
        names = model.series_choices()
        self.series_picker = _picker("metric:", [(n, n) for n in names],
                                     names[0] if names else None)
        self.lines_view = w.HTML()
        self.lines_view.add_class("aml-compare-lines")
        tabs = w.Tab(children=[w.VBox([self.x_picker, self.y_picker, self.log_x,
                                       self.scatter_view]),
                               w.VBox([self.series_picker, self.lines_view])])
        for index, text in enumerate(TAB_TITLES):
            tabs.set_title(index, text)
        self.x_picker.observe(self._x_changed, names="value")
        for control in (self.y_picker, self.log_x):
            control.observe(self._redraw_scatter, names="value")
        self.series_picker.observe(self._redraw_lines, names="value")
        super().__init__([title, table, tabs])
        self.add_class("aml-compare-widget")
        self._redraw_scatter()
        self._redraw_lines()

    def _axis(self, key: str | None) -> Axis | None:
        return self.axes.get(key) if key else None

    def _x_changed(self, _change: object = None) -> None:
        """A new x gets its own default scale (the toggle's redraw), then is drawn."""
        log = self.model.log_by_default(self._axis(self.x_picker.value))
        if self.log_x.value != log:
            self.log_x.value = log          # observed: redraws
        else:
            self._redraw_scatter()

    def _redraw_scatter(self, _change: object = None) -> None:
        self.scatter_view.value = self.model.scatter(self._axis(self.x_picker.value),
                                                     self._axis(self.y_picker.value),
                                                     x_log=self.log_x.value)

    def _redraw_lines(self, _change: object = None) -> None:
        self.lines_view.value = self.model.lines(self.series_picker.value)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        data = super()._repr_mimebundle_(**kwargs)
        if data is None:
            return None
        data["text/plain"] = self.model.text()
        data["text/html"] = CompareView(self.model).html()
        return data
