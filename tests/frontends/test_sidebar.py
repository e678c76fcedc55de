"""The "Runs" sidebar in real JupyterLab (Debian's Chromium driven by Playwright), with the
labextension as INSTALLED by the wheel (a prebuilt copy under share/jupyter/labextensions, not a
development link): open the sidebar, see the targets, submit a .py through the file browser's
context menu, watch it reach Completed, read its log and metrics chart, cancel a long run."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._project import write
from tests._wait import wait_until

from .browser import Lab, jupyterlab, chromium_page
from .sidebar_page import lab_env, require_lab, shoot, submit_through_context_menu, widen_left_area

TRAIN = """
    import time
    from azureml.logging import get_azureml_logger
    logger = get_azureml_logger()
    for epoch in range(8):
        loss = 1.0 / (epoch + 1)
        logger.log("loss", loss)
        print(f"epoch {epoch}: loss={loss:.3f}", flush=True)
        time.sleep(0.2)
    logger.log("accuracy", 0.93)
    import os
    os.makedirs("outputs", exist_ok=True)
    open("outputs/model.txt", "w").write("weights 42")
    print("training finished")
"""
LONG = """
    import time
    print("long run started", flush=True)
    while True:
        time.sleep(0.1)
"""


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    """JupyterLab on loopback over a root holding the project ``proj/``."""
    require_lab()
    from aml_magic.domain.config import init_project
    root = tmp_path / "lab"
    project = init_project(root / "proj")
    write(project, "train.py", TRAIN)
    write(project, "long.py", LONG)
    with jupyterlab(root, tmp_path, env=lab_env(), ready_path="aml/api/version") as lab:
        yield lab


@pytest.mark.timeout(240)
def test_sidebar_submit_watch_log_chart_and_cancel(lab: Lab) -> None:
    with chromium_page(1400, 1100) as page:
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        # Given JupyterLab opened on the project folder
        page.goto(lab.url("lab/tree/proj"))
        tab = page.locator(".lm-TabBar-tab[data-id='aml-magic-sidebar']")
        tab.wait_for(timeout=60_000)
        # When the Runs sidebar is opened
        if "lm-mod-current" not in (tab.get_attribute("class") or ""):
            tab.click()
        sidebar = page.locator("#aml-magic-sidebar")
        widen_left_area(page, 520)
        # Then it shows the project and its targets, with type and prepared state
        sidebar.locator(".aml-Project", has_text="Project: proj").wait_for(timeout=30_000)
        local = sidebar.locator(".aml-Target[data-name='local']")
        local.wait_for(timeout=30_000)
        assert local.locator(".aml-TargetType").inner_text() == "local"
        wait_until(lambda: local.locator(".aml-Prepared").inner_text() == "yes", 30,
                   "local target shown as prepared")
        assert sidebar.locator(".aml-Target[data-name='docker']").count() == 1
        shoot(sidebar, "sidebar_targets.png")

        # When train.py is submitted through the file browser's context menu
        submit_through_context_menu(page, "train.py", "--epochs 8")
        # Then its run appears, opens, and reaches Completed with its log and chart
        detail = sidebar.locator(".aml-RunDetail")
        detail.locator(".aml-Badge", has_text="Completed").wait_for(timeout=60_000)
        detail.locator(".aml-Log", has_text="training finished").wait_for(timeout=10_000)
        assert "epoch 0: loss=1.000" in detail.locator(".aml-Log").inner_text()
        assert detail.locator(".aml-Arguments").inner_text() == "train.py --epochs 8"
        chart = detail.locator("svg.aml-Chart[data-metric='loss']")
        chart.wait_for(timeout=10_000)
        assert chart.locator("circle").count() == 8
        row = sidebar.locator(".aml-Run[data-status='Completed']")
        row.first.wait_for(timeout=30_000)
        assert "loss=0.125" in row.first.locator(".aml-RunMetrics").inner_text()
        # And its output downloads through the link (the browser's own session)
        link = detail.locator("a.aml-Output", has_text="model.txt")
        link.wait_for(timeout=30_000)
        href = link.get_attribute("href") or ""
        download = page.request.get(href if href.startswith("http") else lab.base + href)
        assert download.ok and download.text() == "weights 42"
        shoot(sidebar, "sidebar_run_detail.png")

        # When a run that never ends is submitted and canceled from its detail
        submit_through_context_menu(page, "long.py")
        detail.locator(".aml-Log", has_text="long run started").wait_for(timeout=60_000)
        detail.locator(".aml-Badge", has_text="Running").wait_for(timeout=30_000)
        status_item = page.locator(".aml-StatusItem[data-active='1']")
        status_item.wait_for(timeout=30_000)
        assert status_item.inner_text() == "aml: 1 active"
        shoot(sidebar, "sidebar_running.png")
        detail.locator(".aml-CancelButton").click()
        # Then it is shown Canceled, in the detail and in the list, and nothing is active
        detail.locator(".aml-Badge", has_text="Canceled").wait_for(timeout=60_000)
        sidebar.locator(".aml-Run[data-status='Canceled']").wait_for(timeout=30_000)
        page.locator(".aml-StatusItem[data-active='0']").wait_for(timeout=30_000)
        # And the status filter narrows the list to that run
        sidebar.locator(".aml-StatusFilter").select_option("Canceled")
        wait_until(lambda: sidebar.locator(".aml-Run").count() == 1 and
                   sidebar.locator(".aml-Run[data-status='Canceled']").count() == 1, 30,
                   "only the canceled run listed")
        assert sidebar.locator(".aml-PageInfo").inner_text() == "1–1 of 1"
        assert not errors, errors


@pytest.mark.timeout(180)
def test_sidebar_attach_prepare_and_detach_a_remote_target(lab: Lab, sshd: Any) -> None:
    with chromium_page(1400, 1000) as page:
        page.goto(lab.url("lab/tree/proj"))
        tab = page.locator(".lm-TabBar-tab[data-id='aml-magic-sidebar']")
        tab.wait_for(timeout=60_000)
        tab.click()
        sidebar = page.locator("#aml-magic-sidebar")
        widen_left_area(page, 520)
        sidebar.locator(".aml-Target[data-name='local']").wait_for(timeout=30_000)
        # When the real sshd is attached through the form, with its password
        sidebar.locator(".aml-AttachToggle").click()
        form = sidebar.locator(".aml-AttachForm")
        form.locator("select[name='type']").select_option("remote")
        form.locator("input[name='name']").fill("box")
        form.locator("input[name='address']").fill(f"{sshd.host}:{sshd.port}")
        form.locator("input[name='username']").fill(sshd.username)
        form.locator("input[name='password']").fill(sshd.password)
        form.locator("input[name='host_key_fingerprint']").fill(sshd.host_key_fingerprint)
        form.locator("button[type='submit']").click()
        # Then the target is listed with its type and address, and the password is gone
        # from the form, the page and the project's files
        box = sidebar.locator(".aml-Target[data-name='box']")
        box.wait_for(timeout=60_000)
        assert box.locator(".aml-TargetType").inner_text() == "remote"
        assert box.locator(".aml-TargetAddress").inner_text() == sshd.host
        assert form.locator("input[name='password']").input_value() == ""
        assert sshd.password not in page.content()
        config = lab.root / "proj" / "aml_config"
        assert all(sshd.password not in p.read_text() for p in config.iterdir())
        # When its environment is prepared from the sidebar
        box.locator(".aml-PrepareButton").click()
        # Then the job's progress ends in success, and the target shows as prepared
        box.locator(".aml-Job-succeeded").wait_for(timeout=120_000)
        wait_until(lambda: box.locator(".aml-Prepared").inner_text() == "yes", 60,
                   "remote target shown as prepared")
        shoot(sidebar, "sidebar_attach_prepare.png")
        # When it is detached (confirmed in the dialog), then it is gone from the list and
        # from aml_config/
        box.locator(".aml-DetachButton").click()
        page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-warn", has_text="Detach").click()
        box.wait_for(state="detached", timeout=30_000)
        assert not (config / "box.compute").exists()
