"""The targets component (labextension/src/components/targets.ts) in real JupyterLab: the
project's targets with type, address and prepared state; Prepare runs a real prepare job and
shows its progress, then one clear result that is dismissed; Detach asks first (a Lab dialog),
and removes the target only when confirmed."""
from __future__ import annotations

import pytest

from tests._wait import wait_until

from .pages import LabProject, sidebar_page


@pytest.mark.timeout(240)
def test_targets_list_prepare_and_detach(lab: LabProject) -> None:
    # Given a project with the targets `aml init` makes, and a second local one attached
    lab.api("POST", "targets", {"type": "local", "name": "spare"})
    listed = {t["name"]: t for t in lab.api("GET", "targets")["targets"]}
    assert set(listed) == {"local", "docker", "spare"}
    with sidebar_page(lab) as sb:
        targets = sb.node.locator(".aml-TargetsView")
        # When the sidebar shows the project
        # Then every target is a row with its name, type and address
        for name, target in listed.items():
            row = targets.locator(f".aml-Target[data-name='{name}']")
            row.wait_for(timeout=30_000)
            assert row.locator(".aml-TargetName").inner_text() == name
            assert row.locator(".aml-TargetType").inner_text() == target["type"]
            assert row.locator(".aml-TargetAddress").inner_text() == (target["address"] or "-")
        assert targets.locator(".aml-Target").count() == 3
        # And the local target's environment is shown prepared
        local = targets.locator(".aml-Target[data-name='local']")
        wait_until(lambda: local.locator(".aml-Prepared").inner_text() == "yes", 30,
                   "local shown prepared")

        # When the spare target is prepared
        spare = targets.locator(".aml-Target[data-name='spare']")
        spare.locator(".aml-PrepareButton").click()
        # Then its job's state and progress are shown until it succeeds
        result = spare.locator(".aml-Job-succeeded", has_text="Prepare: succeeded")
        result.wait_for(timeout=120_000)
        assert spare.locator(".aml-PrepareProgress").count() == 1
        assert spare.locator(".aml-PrepareButton").is_enabled()
        wait_until(lambda: spare.locator(".aml-Prepared").inner_text() == "yes", 30,
                   "spare shown prepared")
        # And it ends with one clear line, its output folded away, until it is dismissed
        line = result.locator(".aml-PrepareResult").inner_text()
        assert line.startswith("Prepare: succeeded in ") and "user-managed environment" in line
        assert not spare.locator(".aml-PrepareProgress").is_visible()
        spare.locator(".aml-PrepareDismiss").click()
        spare.locator(".aml-PrepareJob").wait_for(state="detached", timeout=30_000)

        # When Detach is clicked, a dialog asks first, naming the target
        dialog = sb.page.locator(".jp-Dialog")
        spare.locator(".aml-DetachButton").click()
        dialog.locator(".jp-Dialog-header", has_text="Detach compute target 'spare'?").wait_for(
            timeout=30_000)
        assert "spare.compute" in dialog.locator(".jp-Dialog-body").inner_text()
        # When it is not confirmed, then the target stays
        dialog.locator(".jp-Dialog-button.jp-mod-reject").click()
        dialog.wait_for(state="detached", timeout=30_000)
        assert (lab.path / "aml_config" / "spare.compute").exists()
        assert targets.locator(".aml-Target[data-name='spare']").count() == 1
        # When it is confirmed, then the target leaves the list and aml_config/
        spare.locator(".aml-DetachButton").click()
        dialog.locator(".jp-Dialog-button.jp-mod-warn", has_text="Detach").click()
        spare.wait_for(state="detached", timeout=30_000)
        assert not (lab.path / "aml_config" / "spare.compute").exists()
        assert {t["name"] for t in lab.api("GET", "targets")["targets"]} == {"local", "docker"}
        # And the runs list's target filter follows the targets
        options = sb.node.locator(".aml-TargetFilter option")
        wait_until(lambda: options.all_inner_texts() == ["all targets", "docker", "local"], 30,
                   "the target filter lists the remaining targets")
