"""Errors of the extension's actions in real JupyterLab (labextension/src/components/notify.ts):
each failing action (attach, detach, prepare, submit) raises a JupyterLab notification with
the server's one-line message that stays through the sidebar's polls until it is dismissed,
and the forms keep what was typed (the attach form its password too; the submit dialog comes
back with its choice and arguments), and a refused Delete in the runs page."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests._project import write
from tests.server.jupyter import free_port

from ..sidebar_page import open_submit_dialog
from .pages import LabProject, sidebar_page
from .test_attach_form import fill, open_form

TOAST = ".jp-Notification-Toast-error"


class Polls:
    """The sidebar's polls of the runs list (``GET runs``), as the page's network sees them."""

    def __init__(self, page: Any) -> None:
        self.page = page

    def wait_for_more(self, how_many: int) -> None:
        """Wait until HOW_MANY more polls were answered (an observed condition, no sleep)."""
        for _ in range(how_many):
            with self.page.expect_response(
                    lambda r: "/aml/api/runs?" in r.url and r.request.method == "GET",
                    timeout=30_000):
                pass


def toast(page: Any, text: str) -> Any:
    return page.locator(TOAST, has_text=text)


@pytest.mark.timeout(240)
def test_failing_attach_notifies_until_dismissed_and_keeps_the_password(lab: LabProject) -> None:
    closed = free_port()
    with sidebar_page(lab) as sb:
        polls = Polls(sb.page)
        form = open_form(sb.node)
        # When a remote target is attached at an address nobody answers on, with a password
        fill(form, "remote", "vm", {"address": f"127.0.0.1:{closed}", "username": "someone",
                                    "password": "s3cret-typed"})
        form.locator("button[type='submit']").click()
        # Then a notification carries the server's one-line message
        note = toast(sb.page, "Attach 'vm'")
        note.wait_for(timeout=60_000)
        text = note.locator(".jp-toast-message").inner_text()
        assert f"127.0.0.1:{closed}" in text and "\n" not in text.strip()
        # And it is still there after two more polls of the sidebar
        polls.wait_for_more(2)
        assert note.is_visible()
        # And the form kept every value, the password too, and says why in place
        assert form.is_visible()
        assert form.locator("[name='password']").input_value() == "s3cret-typed"
        assert form.locator("[name='address']").input_value() == f"127.0.0.1:{closed}"
        assert form.locator("input[name='name']").input_value() == "vm"
        assert f"127.0.0.1:{closed}" in form.locator(".aml-AttachError").inner_text()
        assert not (lab.path / "aml_config" / "vm.compute").exists()
        # When it is dismissed, then it is gone
        note.locator(".jp-Notification-Toast-Close").click()
        note.wait_for(state="detached", timeout=30_000)
        # And closing the form takes the password out of the page
        sb.node.locator(".aml-AttachToggle").click()
        assert form.locator("[name='password']").input_value() == ""


@pytest.mark.timeout(240)
def test_failing_detach_and_prepare_notify(lab: LabProject) -> None:
    # Given a second local target, and a run configuration whose target is gone
    lab.api("POST", "targets", {"type": "local", "name": "spare"})
    lab.api("POST", "targets", {"type": "local", "name": "brief"})
    with sidebar_page(lab) as sb:
        targets = sb.node.locator(".aml-TargetsView")
        spare = targets.locator(".aml-Target[data-name='spare']")
        brief = targets.locator(".aml-Target[data-name='brief']")
        spare.wait_for(timeout=30_000)
        brief.wait_for(timeout=30_000)
        polls = Polls(sb.page)
        # When spare's files go behind the page's back and Detach is confirmed
        (lab.path / "aml_config" / "spare.compute").unlink()
        (lab.path / "aml_config" / "spare.runconfig").unlink()
        spare.locator(".aml-DetachButton").click()
        sb.page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept", has_text="Detach").click()
        # Then the server's 404 is a notification that outlives the polls
        note = toast(sb.page, "Detach 'spare'")
        note.wait_for(timeout=30_000)
        assert "no compute target 'spare'" in note.inner_text()
        # When brief's run configuration goes and Prepare is clicked
        (lab.path / "aml_config" / "brief.runconfig").unlink()
        brief.locator(".aml-PrepareButton").click()
        # Then that failure is a notification too, and both stay through two polls
        toast(sb.page, "Prepare 'brief'").wait_for(timeout=30_000)
        polls.wait_for_more(2)
        assert note.is_visible() and toast(sb.page, "Prepare 'brief'").is_visible()


@pytest.mark.timeout(240)
def test_failing_submit_notifies_and_the_dialog_keeps_its_input(lab: LabProject) -> None:
    # Given a script, and a run configuration whose target's file is broken
    write(lab.path, "echo.py", "print('hi')\n")
    lab.api("POST", "targets", {"type": "local", "name": "brk"})
    with sidebar_page(lab) as sb:
        (lab.path / "aml_config" / "brk.compute").write_text("type: [not, a, type\n")
        # When the script is submitted with arguments to the broken configuration
        dialog = open_submit_dialog(sb.page, "echo.py")
        dialog.locator(".aml-SubmitConfig").select_option("brk")
        dialog.locator(".aml-SubmitArguments").fill("--alpha 0.5 --name 'two words'")
        dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
        # Then a notification says why, and the dialog is back with what was chosen and typed
        toast(sb.page, f"Submit {lab.name}/echo.py").wait_for(timeout=60_000)
        again = sb.page.locator(".jp-Dialog .aml-SubmitDialog")
        again.wait_for(timeout=30_000)
        assert again.locator(".aml-SubmitConfig").input_value() == "brk"
        assert again.locator(".aml-SubmitArguments").input_value() == \
            "--alpha 0.5 --name 'two words'"
        sb.page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-reject").click()
        assert lab.api("GET", "runs")["total"] == 0


@pytest.mark.timeout(240)
def test_refused_delete_in_the_runs_page_notifies(lab: LabProject, tmp_path: Path) -> None:
    from .test_runs_table import open_by_button
    from .test_status_bar import WAITS
    go = tmp_path / "go"
    write(lab.path, "w.py", WAITS)
    run = lab.api("POST", "runs", {"run_configuration": "local", "script": f"{lab.name}/w.py",
                                   "arguments": [str(go)]})
    try:
        with sidebar_page(lab) as sb:
            polls = Polls(sb.page)
            grid = open_by_button(sb)
            # When an active run is ticked and Delete is confirmed
            grid.locator(f"[role=row][data-run-id='{run['run_id']}'] .aml-SelectRun").check()
            sb.page.get_by_role("button", name="Delete selected runs").click()
            sb.page.locator(".jp-Dialog").get_by_role("button", name="Delete").click()
            # Then the server's refusal is a notification naming the run, kept through polls
            note = toast(sb.page, f"Delete: {run['run_id']}")
            note.wait_for(timeout=30_000)
            polls.wait_for_more(2)
            assert note.is_visible()
            # And its whole line, longer than a toast shows, is one click away
            note.get_by_role("button", name="Details").click()
            dialog = sb.page.locator(".jp-Dialog")
            body = dialog.locator(".jp-Dialog-body")
            body.wait_for(timeout=30_000)
            assert f"run {run['run_id']} is " in body.inner_text()
            assert "cancel it first" in body.inner_text()
            dialog.locator(".jp-Dialog-footer button").last.click()
            dialog.wait_for(state="detached", timeout=30_000)
            assert note.is_visible()
            assert lab.api("GET", f"runs/{run['run_id']}")["run_id"] == run["run_id"]
    finally:
        go.write_text("go")
