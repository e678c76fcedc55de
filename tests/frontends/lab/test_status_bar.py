"""The status-bar item (labextension/src/components/statusItem.ts) in real JupyterLab: it counts
the active runs of every project the server knows (``GET active-runs``), not only those of
the folder the file browser shows."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests._project import write
from tests._wait import wait_until

from ..sidebar_page import call_api
from .pages import LabProject, sidebar_page

WAITS = """
import os, sys, time
print("waiting", flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.05)
"""


@pytest.mark.timeout(300)
def test_status_bar_counts_active_runs_of_every_project(lab: LabProject, tmp_path: Path) -> None:
    from aml_magic.domain.config import init_project
    go = tmp_path / "go"
    # Given two other projects with runs that wait (two in one, one in the other)
    others = {f"{lab.name}_a": 2, f"{lab.name}_b": 1}
    for name, count in others.items():
        write(init_project(lab.lab.root / name), "w.py", WAITS)
        for _ in range(count):
            status, run = call_api(lab.lab, "POST", "runs", {
                "run_configuration": "local", "script": f"{name}/w.py", "arguments": [str(go)]},
                project=name)
            assert status == 201, run
    try:
        # When the browser shows this test's project, a third folder, with no runs of its own
        with sidebar_page(lab) as sb:
            item = sb.page.locator(".aml-StatusItem")

            def shown() -> tuple[int, str]:
                return int(item.get_attribute("data-active") or -1), \
                    item.get_attribute("title") or ""

            def server_count() -> int:
                status, answer = call_api(lab.lab, "GET", "active-runs")
                assert status == 200, answer
                return int(answer["active"])
            # Then the status bar counts the runs of both other projects (and whatever else
            # the shared server runs: it shows the server's own count), naming each project
            wait_until(lambda: shown()[0] == server_count() and shown()[0] >= 3 and
                       all(f"{name} {count}" in shown()[1] for name, count in others.items()),
                       60, "the status bar counts both projects' runs")
            assert item.inner_text() == f"aml: {shown()[0]} active"
            assert lab.api("GET", "runs")["active"] == 0      # none of them is this folder's
            # When the runs end, then they leave the count
            before = shown()[0]
            go.write_text("go")
            wait_until(lambda: shown()[0] <= before - 3 and
                       not any(f"{name} " in shown()[1] for name in others), 60,
                       "the ended runs left the count")
    finally:
        go.write_text("go")
