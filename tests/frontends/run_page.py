"""The Lab's run page (labextension/src/components/runPage.ts) for the browser tests and the
benchmark: open it the way a user does (runs table, row click), and measure how long a line a
script prints takes to be visible in its Log tab."""
from __future__ import annotations

import re
from typing import Any, Callable

from tests._wait import wait_until

#: Prints ``MARK<i> <epoch ms>`` as soon as ``<GO>.<i>`` exists, for i in range(ROUNDS); the
#: print time is the script's own clock (the machine's, which the page reads too).
PRINTER = """
import os, sys, time
go, rounds = sys.argv[1], int(sys.argv[2])
print("printer ready", flush=True)
for i in range(rounds):
    while not os.path.exists(f"{go}.{i}"):
        time.sleep(0.002)
    print(f"MARK{i} {time.time() * 1000:.1f}", flush=True)
print("printer done", flush=True)
"""

#: In the page: record (in window.__marks[i]) the epoch ms of the first frame after the run
#: page's Log shows MARK<i>, watching the log's mutations.
WATCH = """([runId, i]) => {
  window.__marks = window.__marks || {};
  const log = document.querySelector(
    `.aml-RunPageBody[data-run-id="${runId}"] .aml-Tab-Log .aml-Log`);
  const marker = `MARK${i} `;
  const seen = () => {
    const last = log.lastElementChild;
    return !!last && last.textContent.includes(marker);
  };
  const observer = new MutationObserver(() => {
    if (seen()) {
      observer.disconnect();
      requestAnimationFrame(() => {
        window.__marks[i] = performance.timeOrigin + performance.now(); });
    }
  });
  observer.observe(log, {subtree: true, childList: true, characterData: true});
}"""


def open_run_page(page: Any, run_id: str) -> Any:
    """From the sidebar (already open): the runs table, then RUN_ID's row; returns the run
    page's body (``.aml-RunPageBody``) once its status shows."""
    page.locator("#aml-magic-sidebar").get_by_role("button", name="Open runs table").click()
    grid = page.get_by_role("grid", name="Runs")
    row = grid.locator(f"[role=row][data-run-id='{run_id}']")
    row.wait_for(timeout=60_000)
    row.click()
    body = page.locator(f".aml-RunPage .aml-RunPageBody[data-run-id='{run_id}']")
    body.locator(".aml-RunHeader .aml-Badge").wait_for(timeout=30_000)
    return body


def print_to_visible(page: Any, run_id: str, go: str, rounds: int, *,
                     before_print: Callable[[], None] | None = None) -> list[float]:
    """Make the printer (run RUN_ID, waiting on GO.<i>) print ROUNDS marks, one at a time; each
    mark's ms from its print to the frame showing it in the Log tab. BEFORE_PRINT is called
    before each (the benchmark pauses a random time there, so that the prints fall at every
    phase of the page's log poll)."""
    latencies = []
    for i in range(rounds):
        page.evaluate(WATCH, [run_id, i])
        if before_print is not None:
            before_print()
        open(f"{go}.{i}", "w").close()
        shown = wait_until(lambda i=i: page.evaluate(f"(window.__marks || {{}})[{i}]"), 30,
                           f"MARK{i} visible in the Log")
        text = page.evaluate(
            "([runId]) => document.querySelector(`.aml-RunPageBody[data-run-id=\"${runId}\"]"
            " .aml-Tab-Log .aml-Log`).textContent", [run_id])
        found = re.search(rf"MARK{i} (\d+\.\d+)", text)
        assert found, f"MARK{i} not in the log"
        latencies.append(float(shown) - float(found.group(1)))
    return latencies

