"""The run page in real JupyterLab and Chromium (labextension/src/components/runPage.ts), over
real runs on the local target: the header (status, times, duration, target, git commit and
dirty flag, interpreter, hint, reason), the tabs by their accessible names (Log, Metrics,
Outputs, Environment, Arguments, Snapshot) with what each shows, Cancel behind a confirmation,
Re-run as a new run in its own page, and a print visible in the Log soon after it happens."""
from __future__ import annotations

import re
import statistics
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests._project import write
from tests._wait import wait_until
from tests.frontends.run_page import PRINTER, open_run_page, print_to_visible

from .pages import LabProject, sidebar_page

TABS = ["Log", "Metrics", "Outputs", "Environment", "Arguments", "Snapshot"]
TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
SECRET = "s3cret-t0ken-value-42"

REPORT = """
    import os, struct, sys, zlib
    from azureml.logging import get_azureml_logger
    logger = get_azureml_logger()
    for step in range(6):
        logger.log("loss", 10.0 ** -step)
    logger.log("accuracy", 0.93)
    os.makedirs("outputs", exist_ok=True)

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    rows = b"".join(b"\\x00" + b"\\xff\\x00\\x00" * 64 for _ in range(32))
    png = (b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 64, 32, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    open("outputs/plot.png", "wb").write(png)
    open("outputs/fig.svg", "w").write('<svg xmlns="http://www.w3.org/2000/svg" width="50" '
                                       'height="40"><rect width="50" height="40" fill="blue"/></svg>')
    open("outputs/notes.txt", "w").write("plain text output\\n")
    print("report done", sys.argv[1:])
"""

WAITS = """
    import os, sys, time
    print("waiting", flush=True)
    while not os.path.exists(sys.argv[1]):
        time.sleep(0.05)
    print("finished", flush=True)
"""


def facts(body: Any) -> dict[str, str]:
    """The header's facts, label -> shown text."""
    pairs = body.locator(".aml-RunFacts").evaluate(
        "dl => Array.from(dl.querySelectorAll('dt')).map(dt => [dt.textContent, "
        "dt.nextElementSibling.textContent])")
    return {str(k): str(v) for k, v in pairs}


def tab(page: Any, name: str) -> Any:
    """The tab named NAME (role tab), clicked; returns its panel."""
    button = page.locator(".aml-RunPage").get_by_role("tab", name=name, exact=True)
    button.click()
    assert button.get_attribute("aria-selected") == "true"
    panel = page.locator(f"[id='{button.get_attribute('aria-controls')}']")
    assert panel.get_attribute("role") == "tabpanel" and panel.is_visible()
    return panel


def git_repository(folder: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True)
    git("init", "-q")
    git("-c", "user.email=t@example.com", "-c", "user.name=t", "add", "-A")
    git("-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "first")


@pytest.mark.browser
@pytest.mark.timeout(300)
def test_the_run_page_shows_header_metrics_outputs_environment_arguments_snapshot(
        lab: LabProject, tmp_path: Path) -> None:
    # Given a project in git, changed since its commit, whose run configuration sets a secret
    # and a plain variable; and a run of a script that logs metrics and writes images
    from aml_magic.domain.config import load_runconfig, write_runconfig
    rc_path = lab.path / "aml_config" / "local.runconfig"
    config = load_runconfig(rc_path)
    config.environment_variables = {"API_TOKEN": SECRET, "PLAIN": "visible-value"}
    write_runconfig(config, rc_path)
    write(lab.path, "report.py", REPORT)
    git_repository(lab.path)
    write(lab.path, "changed.txt", "not committed\n")
    run = lab.api("POST", "runs", {"run_configuration": "local",
                                   "script": f"{lab.name}/report.py",
                                   "arguments": ["--lr", "0.01", "--name", "first try"]})
    run_id = run["run_id"]
    wait_until(lambda: lab.api("GET", f"runs/{run_id}")["status"] == "Completed", 120,
               "the run completes")
    detail = lab.api("GET", f"runs/{run_id}")
    assert detail["git_commit"] and detail["git_dirty"] is True
    with sidebar_page(lab) as sb:
        page = sb.page
        # When its row in the runs table is clicked
        body = open_run_page(page, run_id)
        # Then its page is headed by its name, with the facts of the run
        page.get_by_role("heading", name="report.py", exact=True).wait_for()
        body.locator(".aml-RunHeader .aml-Badge", has_text="Completed").wait_for()
        wait_until(lambda: "…" not in facts(body).get("Interpreter", "…"), 30, "the interpreter")
        shown = facts(body)
        assert shown["Status"] == "Completed"
        assert all(TIME.match(shown[k]) for k in ("Queued", "Started", "Ended")), shown
        assert re.match(r"^\d", shown["Duration"]), shown
        assert shown["Target"] == "local (local)"
        assert shown["Git commit"] == f"{detail['git_commit'][:10]} (dirty: uncommitted changes)"
        assert shown["Interpreter"] == detail["python"]
        assert body.locator(".aml-GitCommit").get_attribute("title") == detail["git_commit"]
        # And six tabs, named by their labels, the Log first and selected, Cancel gone (ended)
        tabs = page.locator(".aml-RunPage").get_by_role("tab")
        assert tabs.all_inner_texts() == TABS
        assert page.locator(".aml-RunPage").get_by_role("tablist", name="Run").count() == 1
        assert page.get_by_role("tab", name="Log").get_attribute("aria-selected") == "true"
        body.locator(".aml-Tab-Log .aml-Log", has_text="report done").wait_for()
        assert page.locator(".aml-RunPage").get_by_role("button", name="Cancel run").count() == 0
        assert page.locator(".aml-RunPage").get_by_role("button", name="Re-run").is_enabled()

        # When the Metrics tab is chosen: a chart of loss by step, the last values listed
        metrics = tab(page, "Metrics")
        chart = metrics.locator("svg[data-metric='loss']")
        chart.wait_for()
        assert chart.get_attribute("data-scale") == "linear"
        assert metrics.locator("tr[data-metric='accuracy'] .aml-MetricValue").inner_text() == "0.930"
        assert metrics.locator("svg[data-metric='accuracy']").count() == 0   # one value
        # and the pointer over the chart reads out the nearest step's value
        box = chart.bounding_box()
        page.mouse.move(box["x"] + box["width"] - 14, box["y"] + box["height"] / 2)
        readout = metrics.locator(".aml-ChartFigure[data-metric='loss'] .aml-ChartReadout")
        wait_until(lambda: readout.inner_text() == "loss at step 5: 1.00e-5", 10,
                   "the readout of the last step")
        # When "Log scale" is pressed: the axis has powers of ten
        toggle = metrics.get_by_role("button", name="Log scale")
        assert toggle.get_attribute("aria-pressed") == "false"
        toggle.click()
        wait_until(lambda: metrics.locator("svg[data-metric='loss']").get_attribute("data-scale")
                   == "log", 10, "a log scale")
        ticks = metrics.locator("svg[data-metric='loss'] .aml-YTick").all_text_contents()
        assert {"1", "0.1", "0.01", "1e-5"} <= set(ticks), ticks
        assert metrics.get_by_role("button", name="Log scale").get_attribute("aria-pressed") \
            == "true"

        # When the Outputs tab is chosen: each file with a download link; images previewed
        outputs = tab(page, "Outputs")
        for name in ("plot.png", "fig.svg"):
            image = outputs.get_by_role("img", name=name)
            image.wait_for()
            wait_until(lambda im=image: im.evaluate("i => i.complete && i.naturalWidth > 0"),
                       30, f"{name} previewed")
        assert outputs.get_by_role("img", name="notes.txt").count() == 0
        with page.expect_download() as download:
            outputs.get_by_role("link", name="notes.txt").click()
        assert Path(download.value.path()).read_text() == "plain text output\n"
        # and a click on an image shows it enlarged, in a dialog
        outputs.get_by_role("img", name="plot.png").click()
        dialog = page.locator(".jp-Dialog")
        large = dialog.locator("img.aml-OutputLarge")
        large.wait_for()
        wait_until(lambda: large.evaluate("i => i.complete && i.naturalWidth === 64"), 10,
                   "the enlarged image")
        preview = outputs.get_by_role("img", name="plot.png").bounding_box()
        assert large.bounding_box()["width"] > 2 * preview["width"]
        dialog.get_by_role("button", name="Close").click()
        dialog.wait_for(state="detached")

        # When the Environment tab is chosen: the plain value shown, the secret masked
        environment = tab(page, "Environment")
        assert environment.locator("tr[data-variable='PLAIN'] td").inner_text() == "visible-value"
        assert environment.locator("tr[data-variable='API_TOKEN']").count() == 1
        assert SECRET not in page.content()
        # When the Arguments tab is chosen: the script and each argument in order
        arguments = tab(page, "Arguments")
        assert arguments.locator(".aml-Script").inner_text() == "report.py"
        assert arguments.get_by_role("list", name="Arguments").locator("li").all_inner_texts() \
            == ["--lr", "0.01", "--name", "first try"]
        # When the Snapshot tab is chosen: the files the run got, with their sizes
        snapshot = tab(page, "Snapshot")
        snapshot.locator("tr[data-path='report.py']").wait_for(timeout=30_000)
        assert snapshot.locator("tr[data-path='changed.txt']").count() == 1
        assert re.match(r"^\d+ files, ", snapshot.locator(".aml-SnapshotSummary").inner_text())
        assert snapshot.locator("tr[data-path^='.git/']").count() == 0


@pytest.mark.browser
@pytest.mark.timeout(300)
def test_the_header_shows_the_hint_and_the_reason_of_a_failed_run(lab: LabProject) -> None:
    # Given a failed run in the history with a reason and a hint (a Workbench module missing)
    from aml_magic.domain.history import RunRecord, RunStatus, RunStore
    hint = "the script imports azureml.dataprep, which this target lacks: pip install it"
    with RunStore(lab.path) as store:
        record = RunRecord(run_id=f"{lab.name}_1700000000000_00aa", project=lab.name,
                           run_configuration="local", target="local", target_type="local",
                           status=RunStatus.FAILED, created_at=1.7e9, started_at=1.7e9 + 2,
                           ended_at=1.7e9 + 65, exit_code=1, reason="exit code 1",
                           script="prep.py", command=["prep.py"],
                           provenance={"hint": hint})
        store.insert_many([record])
    with sidebar_page(lab) as sb:
        # When its page is opened
        body = open_run_page(sb.page, record.run_id)
        body.locator(".aml-RunHeader .aml-Badge", has_text="Failed").wait_for()
        # Then the header says why it failed and what would help, and how long it ran
        wait_until(lambda: "Hint" in facts(body), 30, "the hint")
        shown = facts(body)
        assert shown["Reason"] == "exit code 1" and shown["Hint"] == hint
        assert shown["Duration"] == "1m03s" and shown["Exit code"] == "1"
        assert shown["Git commit"] == "-"


@pytest.mark.browser
@pytest.mark.timeout(300)
def test_cancel_asks_first_and_rerun_opens_a_new_run_with_the_same_command(
        lab: LabProject, tmp_path: Path) -> None:
    # Given a live run that waits for a file
    write(lab.path, "waits.py", WAITS)
    go = tmp_path / "go"
    run = lab.api("POST", "runs", {"run_configuration": "local", "script": f"{lab.name}/waits.py",
                                   "arguments": [str(go)]})
    with sidebar_page(lab) as sb:
        page = sb.page
        body = open_run_page(page, run["run_id"])
        body.locator(".aml-Tab-Log .aml-Log", has_text="waiting").wait_for(timeout=60_000)
        runs_page = page.locator(f".aml-RunPage:has(.aml-RunPageBody[data-run-id='{run['run_id']}'])")
        # When Cancel is pressed and the confirmation declined: it goes on running
        runs_page.get_by_role("button", name="Cancel run").click()
        dialog = page.locator(".jp-Dialog")
        dialog.get_by_role("button", name="Keep it running").click()
        dialog.wait_for(state="detached")
        assert lab.api("GET", f"runs/{run['run_id']}")["status"] == "Running"
        # When Re-run is pressed: a new run of the same command opens in its own page
        runs_page.get_by_role("button", name="Re-run").click()
        again = page.locator(".aml-RunPage .aml-RunPageBody:not([data-run-id='%s'])" % run["run_id"])
        again.wait_for(timeout=30_000)
        new_id = again.get_attribute("data-run-id")
        assert new_id and new_id != run["run_id"]
        assert page.locator(".lm-TabBar-tab.lm-mod-current", has_text="waits.py").count() == 1
        new = lab.api("GET", f"runs/{new_id}")
        assert (new["command"], new["target"]) == (run["command"], run["target"])
        again.locator(".aml-Tab-Log .aml-Log", has_text="waiting").wait_for(timeout=60_000)
        # When Cancel is pressed on the first run's page and confirmed: it is canceled
        page.locator(f".lm-TabBar-tab[title='{run['run_id']}']").click()
        runs_page.get_by_role("button", name="Cancel run").click()
        page.locator(".jp-Dialog").get_by_role("button", name="Cancel run").click()
        body.locator(".aml-RunHeader .aml-Badge", has_text="Canceled").wait_for(timeout=60_000)
        assert runs_page.get_by_role("button", name="Cancel run").count() == 0
        # And the re-run goes on and ends on its own
        go.write_text("go")
        page.locator(f".lm-TabBar-tab[title='{new_id}']").click()
        again.locator(".aml-Tab-Log .aml-Log", has_text="finished").wait_for(timeout=60_000)
        again.locator(".aml-RunHeader .aml-Badge", has_text="Completed").wait_for(timeout=60_000)


@pytest.mark.browser
@pytest.mark.timeout(300)
def test_a_print_is_visible_in_the_log_soon(lab: LabProject, tmp_path: Path) -> None:
    # Given a live run that prints a mark (with its time) whenever told to
    write(lab.path, "printer.py", PRINTER)
    go = str(tmp_path / "go")
    run = lab.api("POST", "runs", {"run_configuration": "local",
                                   "script": f"{lab.name}/printer.py", "arguments": [go, "5"]})
    with sidebar_page(lab) as sb:
        body = open_run_page(sb.page, run["run_id"])
        body.locator(".aml-Tab-Log .aml-Log", has_text="printer ready").wait_for(timeout=60_000)
        # When it prints, five times
        latencies = print_to_visible(sb.page, run["run_id"], go, 5)
        # Then each line is shown, once (the benchmark holds the time to its contract)
        print(f"\nprint to visible: {[round(ms) for ms in latencies]} ms, median "
              f"{statistics.median(latencies):.0f} ms")
        text = body.locator(".aml-Tab-Log .aml-Log").inner_text()
        assert all(text.count(f"MARK{i} ") == 1 for i in range(5)), text[-500:]
        assert all(ms > 0 for ms in latencies), latencies
