"""The run detail component (labextension/src/components/runDetail.ts) in real JupyterLab: a run
on the real local target, followed live (log lines and metrics while it runs, then its end with
exit code, outputs and environment), Cancel of a run that never ends, and one state: the runs
list and the detail show the same status at every change of the page."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests._project import write
from tests._wait import wait_until

from ..sidebar_page import submit_through_context_menu
from .pages import LabProject, sidebar_page

STEPS = """
    import os, sys, time
    from azureml.logging import get_azureml_logger
    logger = get_azureml_logger()
    go = sys.argv[1]
    for epoch in range(5):
        logger.log("loss", 1.0 / (epoch + 1))
        print(f"epoch {epoch}", flush=True)
    print("waiting for go", flush=True)
    while not os.path.exists(go):
        time.sleep(0.05)
    logger.log("accuracy", 0.9)
    os.makedirs("outputs", exist_ok=True)
    open("outputs/model.txt", "w").write("weights")
    print("finished", flush=True)
"""
LONG = """
    import time
    print("long run started", flush=True)
    while True:
        time.sleep(0.1)
"""
#: Records, at every change of the sidebar's DOM, the open run's status as the runs list shows
#: it and as the detail shows it (MutationObserver callbacks run after each batch of changes).
WATCH_ONE_STATE = """() => {
  window.amlSamples = [];
  const sidebar = document.getElementById('aml-magic-sidebar');
  new MutationObserver(() => {
    const detail = sidebar.querySelector('.aml-RunDetail[data-run-id]');
    if (!detail) { return; }
    const id = detail.dataset.runId;
    const badge = detail.querySelector('.aml-DetailHeader .aml-Badge');
    const row = sidebar.querySelector(`.aml-Run[data-run-id="${id}"]`);
    if (badge && row) {
      window.amlSamples.push([row.dataset.status, row.querySelector('.aml-Badge').textContent,
                              badge.textContent]);
    }
  }).observe(sidebar, {subtree: true, childList: true, attributes: true, characterData: true});
}"""


def metric_count(detail: Any, name: str) -> str:
    row = detail.locator(f".aml-Metrics tr[data-metric='{name}']")
    return str(row.locator(".aml-MetricCount").inner_text()) if row.count() else ""


@pytest.mark.timeout(240)
def test_run_detail_follows_log_and_metrics_live_then_the_end(lab: LabProject,
                                                              tmp_path: Path) -> None:
    # Given a run on the local target that logs 5 losses, then waits for a file
    write(lab.path, "steps.py", STEPS)
    go = tmp_path / "go"
    run = lab.api("POST", "runs", {"run_configuration": "local", "script": f"{lab.name}/steps.py",
                                   "arguments": [str(go)]})
    with sidebar_page(lab) as sb:
        # When its row is clicked
        sb.node.locator(f".aml-Run[data-run-id='{run['run_id']}']").click()
        detail = sb.node.locator(f".aml-RunDetail[data-run-id='{run['run_id']}']")
        # Then, while it runs, the detail shows Running with Cancel, the log so far, the
        # losses as a table row and a chart, and that outputs come at the end
        detail.locator(".aml-Log", has_text="waiting for go").wait_for(timeout=60_000)
        detail.locator(".aml-DetailHeader .aml-Badge", has_text="Running").wait_for(timeout=30_000)
        assert detail.locator(".aml-CancelButton").count() == 1
        assert "epoch 0\nepoch 1\nepoch 2\nepoch 3\nepoch 4\nwaiting for go" in \
            detail.locator(".aml-Log").inner_text()
        assert "finished" not in detail.locator(".aml-Log").inner_text()
        wait_until(lambda: metric_count(detail, "loss") == "5 values", 30, "5 losses shown")
        assert detail.locator("svg.aml-Chart[data-metric='loss'] circle").count() == 5
        assert detail.locator(".aml-DetailOutputs").inner_text() == "Collected when the run ends."
        assert detail.locator(".aml-Arguments").inner_text() == f"steps.py {go}"
        assert detail.locator(".aml-ExitCode").inner_text() == "-"
        # When it is let go
        go.write_text("go")
        # Then the rest of its log is appended, and it ends Completed with exit code 0, its
        # last metric, its output as a link, its environment, and no Cancel
        detail.locator(".aml-Log", has_text="finished").wait_for(timeout=60_000)
        detail.locator(".aml-DetailHeader .aml-Badge", has_text="Completed").wait_for(timeout=30_000)
        assert detail.locator(".aml-Log").inner_text().count("epoch 0") == 1
        wait_until(lambda: detail.locator(".aml-ExitCode").inner_text() == "0", 30, "exit code 0")
        detail.locator("tr[data-metric='accuracy'] .aml-MetricValue", has_text="0.900").wait_for(
            timeout=30_000)
        detail.locator("a.aml-Output", has_text="model.txt").wait_for(timeout=30_000)
        assert detail.locator(".aml-Environment tr[data-variable='EXAMPLE_ENV_VAR']").count() == 1
        assert detail.locator(".aml-CancelButton").count() == 0
        # And the close button closes it
        detail.locator(".aml-CloseDetail").click()
        detail.wait_for(state="detached", timeout=30_000)


@pytest.mark.timeout(240)
def test_run_detail_cancel_and_the_list_show_one_state(lab: LabProject) -> None:
    # Given the sidebar watched at every change of its DOM
    write(lab.path, "long.py", LONG)
    with sidebar_page(lab) as sb:
        sb.page.evaluate(WATCH_ONE_STATE)
        # When a run that never ends is submitted (the detail opens at once) and canceled
        submit_through_context_menu(sb.page, "long.py")
        detail = sb.node.locator(".aml-RunDetail")
        detail.locator(".aml-Log", has_text="long run started").wait_for(timeout=60_000)
        detail.locator(".aml-DetailHeader .aml-Badge", has_text="Running").wait_for(timeout=30_000)
        run_id = detail.get_attribute("data-run-id")
        row = sb.node.locator(f".aml-Run[data-run-id='{run_id}']")
        row.wait_for(timeout=30_000)
        detail.locator(".aml-CancelButton").click()
        # Then both show Canceled, and Cancel is gone
        detail.locator(".aml-DetailHeader .aml-Badge", has_text="Canceled").wait_for(timeout=60_000)
        wait_until(lambda: row.get_attribute("data-status") == "Canceled", 30, "row Canceled")
        assert detail.locator(".aml-CancelButton").count() == 0
        # And at no change of the page did the list and the detail show different statuses
        samples = sb.page.evaluate("window.amlSamples")
        statuses = [detail_status for _, _, detail_status in samples]
        assert "Running" in statuses and statuses[-1] == "Canceled", statuses
        disagreements = [s for s in samples if len(set(s)) != 1]
        assert not disagreements, (disagreements, samples)

