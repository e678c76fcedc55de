"""Run widget, renderers and runs table against a fake Run (fast; no kernel, no browser)."""
from __future__ import annotations

import subprocess
import sys

from aml_magic.domain.history.status import RunStatus
from aml_magic.frontends.notebook.widgets._render import sparkline_svg, summary_html, summary_text
from aml_magic.frontends.notebook.widgets._snapshot import LogTail, group_metrics, mask_environment
from aml_magic.frontends.notebook.widgets.runs_table import RunsTable
from tests._require import require_module

from .fakes import FakeRun, wait_for

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def test_log_tail_caps_lines_and_joins_split_chunks() -> None:
    # Given a tail of 3 lines
    tail = LogTail(3)
    # When lines arrive in chunks that split a line
    tail.feed("a\nb\nc")
    tail.feed("ont\nd\ne\n")
    # Then only the last 3 complete lines are kept, and truncation is known
    assert tail.text() == "cont\nd\ne"
    assert tail.truncated and tail.total_lines == 5


def test_metrics_group_into_series_and_chart() -> None:
    # Given a scalar logged three times and a list-valued metric
    run = FakeRun()
    for value in (0.9, 0.5, 0.2):
        run.log_metric("loss", value)
    run.log_metric("curve", [1, 2, 3, 2])
    run.log_metric("alpha", 0.5)
    # When they are grouped
    series = {s.name: s for s in group_metrics(run.metrics())}
    # Then repeated and list values are series with a sparkline; single values are not
    assert series["loss"].values == [0.9, 0.5, 0.2] and series["loss"].is_series
    assert series["curve"].values == [1, 2, 3, 2]
    assert not series["alpha"].is_series
    assert sparkline_svg(series["loss"].numbers).startswith("<svg")
    assert sparkline_svg([1.0]) == ""


def test_environment_names_that_look_secret_are_masked() -> None:
    masked = mask_environment({"DB_PASSWORD": "hunter2", "API_TOKEN": "t", "ALPHA": "0.5"})
    assert masked == {"DB_PASSWORD": "******", "API_TOKEN": "******", "ALPHA": "0.5"}


def test_widget_follows_run_to_completion_and_stops() -> None:
    require_module("ipywidgets")
    from aml_magic.frontends.notebook.widgets.run_widget import RunWidget
    # Given a running run with a log line
    run = FakeRun(status=RunStatus.RUNNING, environment={"ALPHA": "0.5", "SECRET_KEY": "s3cr3t"})
    run.write("epoch 1 loss=0.9\n")
    widget = RunWidget(run, interval=0.02)
    try:
        wait_for(lambda: "epoch 1" in widget.log_view.value)
        assert "Running" in widget.header.value
        # When more lines, metrics and the end arrive
        run.write("epoch 2 loss=0.5\n")
        run.log_metric("loss", 0.9)
        run.log_metric("loss", 0.5)
        run.finish()
        # Then the widget shows them and its thread stops at the terminal status
        wait_for(lambda: "Completed" in widget.header.value)
        widget.watcher.join(2)
        assert not widget.watcher.alive
        assert "epoch 2" in widget.log_view.value
        assert "<svg" in widget.metrics_view.value
        assert "model.txt" in widget.outputs_view.value
        assert "s3cr3t" not in widget.environment_view.value and "ALPHA" in widget.environment_view.value
        assert widget.cancel_button.disabled
        refreshes = run.refreshes
        widget.watcher.join(0.1)
        assert run.refreshes == refreshes
    finally:
        widget.close()


def test_widget_bundle_has_view_html_and_text() -> None:
    require_module("ipywidgets")
    from aml_magic.frontends.notebook.widgets.run_widget import RunWidget
    # Given a finished run
    run = FakeRun()
    run.write("hello from the cell\n")
    run.finish()
    widget = RunWidget(run)
    # When the display bundle is built
    bundle = widget._repr_mimebundle_()
    # Then it carries the widget view plus readable fallbacks
    assert WIDGET_VIEW in bundle
    assert "Completed" in bundle["text/plain"] and "hello from the cell" in bundle["text/plain"]
    assert "Completed" in bundle["text/html"] and "hello from the cell" in bundle["text/html"]
    assert not widget.watcher.alive      # terminal at first sight: no thread at all
    widget.close()


def test_cancel_button_cancels_off_the_main_thread() -> None:
    require_module("ipywidgets")
    from aml_magic.frontends.notebook.widgets.run_widget import RunWidget
    run = FakeRun(status=RunStatus.RUNNING)
    widget = RunWidget(run, interval=0.02)
    try:
        widget.cancel_button.click()
        assert run.canceled.wait(2)
        wait_for(lambda: "Canceled" in widget.header.value)
    finally:
        widget.close()


def test_full_log_button_shows_every_line() -> None:
    require_module("ipywidgets")
    from aml_magic.frontends.notebook.widgets.run_widget import RunWidget
    run = FakeRun()
    run.write("".join(f"line {i}\n" for i in range(500)))
    run.finish()
    widget = RunWidget(run)
    assert "line 0\n" not in widget.log_view.value and "line 499" in widget.log_view.value
    widget.full_log_button.click()
    assert "line 0\n" in widget.full_log_view.value and "line 499" in widget.full_log_view.value
    widget.close()


def test_summary_text_and_runs_table_are_readable() -> None:
    run = FakeRun(status=RunStatus.FAILED, reason="exit code 3")
    run.record.exit_code = 3
    from aml_magic.frontends.notebook.widgets._watcher import RunWatcher
    snap = RunWatcher(run, on_update=lambda s: None).poll_once()
    assert "Failed" in summary_text(snap) and "exit code 3" in summary_text(snap)
    assert "exit code 3" in summary_html(snap)
    run.log_metric("acc", 0.75)
    table = RunsTable([run], project="proj", filters="status=Failed")
    assert run.id in table.text() and "acc=0.75" in table.text()
    assert "Failed" in table._repr_mimebundle_()["text/html"]
    assert "No runs" in RunsTable([], project="proj").text()


def test_loading_the_magics_imports_nothing_heavy() -> None:
    # Given a fresh interpreter, when the extension module is imported and registered
    code = ("import sys; from IPython.testing.globalipapp import get_ipython; ip = get_ipython(); "
            "ip.run_line_magic('load_ext', 'aml_magic'); "
            "print(sorted(m for m in ('ipywidgets', 'paramiko', 'docker', 'pyspark', "
            "'aml_magic.service.workspace') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # Then none of the heavy modules were loaded
    assert out.stdout.strip().splitlines()[-1] == "[]"
