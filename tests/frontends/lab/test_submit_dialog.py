"""The submit dialog component (labextension/src/components/submitDialog.ts) in real JupyterLab:
the file browser's "Submit as run…" offers the project's run configurations, splits
the arguments as a shell would, and submits the script; Cancel submits nothing; a project
without run configurations gets one clear error."""
from __future__ import annotations

import pytest

from tests._project import write

from ..sidebar_page import open_submit_dialog
from .pages import LabProject, sidebar_page

ECHO = """
    import sys
    print("arguments:", sys.argv[1:], flush=True)
"""


@pytest.mark.timeout(240)
def test_submit_dialog_offers_configurations_and_submits(lab: LabProject) -> None:
    # Given a project with a script and the run configurations `aml init` makes
    write(lab.path, "echo.py", ECHO)
    configs = lab.api("GET", "runconfigs")["run_configurations"]
    with sidebar_page(lab) as sb:
        # When the script's "Submit as run…" menu item is chosen
        dialog = open_submit_dialog(sb.page, "echo.py")
        # Then the dialog names the script and offers every run configuration with its target
        assert dialog.locator(".aml-SubmitScript").inner_text() == f"Run {lab.name}/echo.py with:"
        offered = dialog.locator(".aml-SubmitConfig option")
        assert offered.all_inner_texts() == [f"{c['name']} → {c['target']}" for c in configs]
        # When Cancel is pressed, then nothing is submitted
        dialog.locator(".jp-Dialog-button.jp-mod-reject").click()
        dialog.wait_for(state="detached", timeout=30_000)
        assert lab.api("GET", "runs")["total"] == 0

        # When it is submitted to `local` with quoted arguments
        dialog = open_submit_dialog(sb.page, "echo.py")
        dialog.locator(".aml-SubmitConfig").select_option("local")
        dialog.locator(".aml-SubmitArguments").fill(
            """--alpha 0.5 --name "two words" 'single q' "say \\"hi\\"" """)
        dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
        # Then the run is recorded with the arguments split as a shell would, and the sidebar
        # comes back with it open
        detail = sb.node.locator(".aml-RunDetail")
        detail.locator(".aml-Log", has_text="arguments:").wait_for(timeout=60_000)
        runs = lab.api("GET", "runs")["runs"]
        assert len(runs) == 1
        assert runs[0]["command"] == ["echo.py", "--alpha", "0.5", "--name", "two words",
                                      "single q", 'say "hi"']
        assert runs[0]["run_configuration"] == "local"
        assert detail.get_attribute("data-run-id") == runs[0]["run_id"]
        assert "['--alpha', '0.5', '--name', 'two words', 'single q', 'say \"hi\"']" in \
            detail.locator(".aml-Log").inner_text()


@pytest.mark.timeout(240)
def test_submit_dialog_without_run_configurations_says_so(lab: LabProject) -> None:
    # Given a project whose run configurations were removed
    write(lab.path, "echo.py", ECHO)
    for config in (lab.path / "aml_config").glob("*.runconfig"):
        config.unlink()
    with sidebar_page(lab) as sb:
        # When its script is submitted through the file browser
        open_submit_dialog(sb.page, "echo.py")
        # Then one error says there is no run configuration, and nothing is submitted
        error = sb.page.locator(".jp-Dialog", has_text="has no run configurations")
        error.wait_for(timeout=30_000)
        assert sb.page.locator(".aml-SubmitConfig").count() == 0
        sb.page.keyboard.press("Escape")
        error.wait_for(state="detached", timeout=30_000)
        assert lab.api("GET", "runs")["total"] == 0
