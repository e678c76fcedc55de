"""The run detail's Log in real JupyterLab (labextension/src/components/runDetail.ts): an 11 MB
log opens on its last 1 MB, showing its end at once without a long task; "Load earlier" adds
the window before it; and a live run's log is followed from its tail (the lines it prints
appear, appended)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests._project import write
from tests._runs_history import seed_runs

from .pages import LabProject, sidebar_page

LINE = "log line %07d " + "x" * 82 + "\n"      # 100 bytes a line
LOG_LINES = 110_000                              # 11 MB
#: In the page: from the click on the run's row to the frame after its log's end is in the
#: page, and every long task (PerformanceObserver 'longtask') meanwhile.
OPEN_AND_TIME = """([runId, end]) => new Promise(resolve => {
  const longTasks = [];
  const observer = new PerformanceObserver(list => {
    for (const e of list.getEntries()) { longTasks.push(e.duration); }
  });
  observer.observe({entryTypes: ['longtask']});
  const sidebar = document.getElementById('aml-magic-sidebar');
  const t0 = performance.now();
  const shown = new MutationObserver(() => {
    const log = sidebar.querySelector('.aml-RunDetail .aml-Log');
    const last = log && log.lastElementChild;
    if (last && last.textContent.endsWith(end)) {
      shown.disconnect();
      requestAnimationFrame(() => {
        const t1 = performance.now();
        // the long tasks of the open are reported a moment later: wait a second for them
        setTimeout(() => { observer.disconnect();
          resolve({ms: t1 - t0, longTasks, chars: log.textContent.length,
                   atBottom: log.scrollTop + log.clientHeight >= log.scrollHeight - 4}); }, 1000);
      });
    }
  });
  shown.observe(sidebar, {subtree: true, childList: true, characterData: true});
  sidebar.querySelector(`.aml-Run[data-run-id="${runId}"]`).click();
})"""
LOG_HAS = "([text]) => document.querySelector('#aml-magic-sidebar .aml-Log').textContent.includes(text)"


def log_has(page: Any, text: str) -> bool:
    return bool(page.evaluate(LOG_HAS, [text]))


@pytest.mark.browser
@pytest.mark.timeout(240)
def test_an_11_mb_log_opens_on_its_tail_at_once_and_loads_earlier(lab: LabProject) -> None:
    # Given an ended run (seeded through the history) whose log is 11 MB
    from aml_magic.domain.history import RunStore
    run_id = seed_runs(lab.path, lab.name, 1)[0]
    with RunStore(lab.path) as store:
        folder = store.run_dir(run_id, create=True)
    with open(folder / "log.txt", "w") as log:
        log.writelines(LINE % i for i in range(LOG_LINES))
        log.write("THE END\n")
    assert (folder / "log.txt").stat().st_size > 11_000_000
    with sidebar_page(lab) as sb:
        sb.node.locator(f".aml-Run[data-run-id='{run_id}']").wait_for(timeout=30_000)
        # When its row is clicked
        opened = sb.page.evaluate(OPEN_AND_TIME, [run_id, "THE END\n"])
        print(f"\n11 MB log: end shown in {opened['ms']:.0f} ms; long tasks "
              f"{[round(t) for t in opened['longTasks']]} ms; {opened['chars']} chars in the page")
        # Then its end is shown, scrolled to, at once; only the last 1 MB is in the page; and
        # nothing blocked the page for more than 100 ms
        assert opened["ms"] < 2000, opened
        assert opened["atBottom"], opened
        assert opened["chars"] <= 1 << 20, opened["chars"]
        assert max(opened["longTasks"], default=0) < 100, opened["longTasks"]
        last_window_first = LOG_LINES - (1 << 20) // 100 + 1     # a line of the tail's start
        assert log_has(sb.page, (LINE % (last_window_first + 5)).strip())
        earlier_line = (LINE % (last_window_first - 3000)).strip()  # in the window before
        assert not log_has(sb.page, earlier_line)
        # When "Load earlier" is clicked
        detail = sb.node.locator(".aml-RunDetail")
        detail.locator(".aml-LoadEarlier").click()
        # Then the window before it is shown above it, and the first line is still not read
        detail.locator(".aml-Log", has_text=earlier_line).wait_for(timeout=30_000)
        assert not log_has(sb.page, (LINE % 0).strip())
        assert detail.locator(".aml-LoadEarlier").is_visible()


PRINTS = """
    import os, sys
    for i in range(30000):                       # 3 MB, more than the tail's window
        print(f"early line {i:06d} " + "y" * 80)
    print("waiting for go", flush=True)
    while not os.path.exists(sys.argv[1]):
        pass
    print("printed after go", flush=True)
"""


@pytest.mark.browser
@pytest.mark.timeout(240)
def test_a_live_runs_log_is_followed_from_its_tail(lab: LabProject, tmp_path: Path) -> None:
    # Given a run on the local target that printed 3 MB and waits
    write(lab.path, "prints.py", PRINTS)
    go = tmp_path / "go"
    run = lab.api("POST", "runs", {"run_configuration": "local", "script": f"{lab.name}/prints.py",
                                   "arguments": [str(go)]})
    with sidebar_page(lab) as sb:
        row = sb.node.locator(f".aml-Run[data-run-id='{run['run_id']}']")
        row.wait_for(timeout=60_000)
        row.click()
        detail = sb.node.locator(f".aml-RunDetail[data-run-id='{run['run_id']}']")
        detail.locator(".aml-Log", has_text="waiting for go").wait_for(timeout=60_000)
        # When it prints a line
        go.write_text("go")
        # Then the line is appended, once, and the page never held the whole log
        detail.locator(".aml-Log", has_text="printed after go").wait_for(timeout=30_000)
        text = sb.page.evaluate(
            "document.querySelector('#aml-magic-sidebar .aml-Log').textContent")
        assert text.count("printed after go") == 1 and text.count("waiting for go") == 1
        assert "early line 000000 " not in text and len(text) <= 3 << 20
