"""The sidebar's compact live view (labextension/src/components/activeRunsView.ts) in real
JupyterLab: the project's active runs, each a link that opens its run page in the main area,
kept live as runs start and end."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests._project import write

from .pages import LabProject, sidebar_page
from .test_status_bar import WAITS


@pytest.mark.timeout(240)
def test_sidebar_lists_active_runs_with_links_to_their_pages(lab: LabProject,
                                                             tmp_path: Path) -> None:
    go = tmp_path / "go"
    write(lab.path, "w.py", WAITS)
    with sidebar_page(lab) as sb:
        view = sb.node.locator(".aml-ActiveRuns")
        view.locator(".aml-Empty", has_text="No active runs.").wait_for(timeout=30_000)
        # When two runs start while the sidebar is open
        runs = [lab.api("POST", "runs", {"run_configuration": "local",
                                         "script": f"{lab.name}/w.py", "arguments": [str(go)]})
                for _ in range(2)]
        try:
            # Then both are listed as active, each a link named after its run
            view.locator("h3", has_text="Active runs (2)").wait_for(timeout=60_000)
            for run in runs:
                view.locator(f".aml-ActiveRun[data-run-id='{run['run_id']}']").wait_for(
                    timeout=30_000)
            links = sb.page.get_by_role("link", name="Open run page of w.py")
            assert links.count() == 2
            # When one is clicked, then its run page opens in the main area, headed by its name
            view.locator(f".aml-ActiveRun[data-run-id='{runs[0]['run_id']}'] a").click()
            page = sb.page.locator(f"#aml-run-{runs[0]['run_id']}")
            page.locator(".aml-RunPageName", has_text="w.py").wait_for(timeout=30_000)
            assert page.is_visible()
        finally:
            go.write_text("go")
        # When they end, then the view says so
        view.locator(".aml-Empty", has_text="No active runs.").wait_for(timeout=60_000)
