"""What the long tasks while scrolling the runs grid are: a Chrome trace of the scroll of
bench_runs_table_browser.py, each main-thread task over 50 ms broken down by the trace events
inside it (self time: Paint, Layout, UpdateLayerTree, a function call of a script, GC, ...).

    python benchmarks/trace_runs_scroll.py --root DIR [--seed 100000] [--rounds 1] [--throttle 4]
        [--save T.json] [--variant NAME=CSS ...]

Each ``--variant`` is a style sheet put in the page for its rounds; with variants the rounds
alternate ("base" without any, then each variant, ...) in one Lab and one browser, so that an
A/B of CSS sees the same load. The worst tasks' CPU is printed for the wheel steps and the
jumps apart (the jumps' start is a ``performance.mark`` of the scroll).

DIR is a folder holding the project ``proj`` (``--seed N`` makes one with N runs first, through
the history layer). Prints the tasks and totals by event; not a test. Needs the Lab venv.
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_runs_table_browser import CLICK_UNTIL, OBSERVE, SCROLL  # noqa: E402
from tests.frontends.browser import CHROMIUM, CHROMIUM_ARGS, jupyterlab  # noqa: E402
from tests.frontends.sidebar_page import lab_env, open_sidebar  # noqa: E402

CATEGORIES = ["toplevel", "devtools.timeline", "disabled-by-default-devtools.timeline",
              "disabled-by-default-devtools.timeline.frame", "blink", "cc", "gpu", "v8",
              "disabled-by-default-v8.gc", "loading", "blink.user_timing", "latencyInfo"]
TASKS = {"RunTask", "ThreadControllerImpl::RunTask", "ThreadPool_RunTask"}
LONG_US = 50_000


def _label(event: dict[str, Any]) -> str:
    """An event's name, with what it ran when the trace says (script URL, event type)."""
    name = event["name"]
    data = (event.get("args") or {}).get("data") or {}
    if name in ("FunctionCall", "EvaluateScript", "v8.compile"):
        url = str(data.get("url", "")).rsplit("/", 1)[-1][:40]
        fn = data.get("functionName", "")
        return f"{name} {fn}@{url}" if (fn or url) else name
    if name == "EventDispatch":
        return f"EventDispatch {data.get('type', '')}"
    return name


def analyse(events: list[dict[str, Any]], pid: int, tid: int, long_us: int = LONG_US,
            clock: str = "dur"
            ) -> tuple[list[tuple[float, float, list[tuple[str, float]]]], collections.Counter]:
    """The main thread's tasks longer than LONG_US (wall time): (start ms, ms, [(event, self
    ms)...]), and the self time by event over them. CLOCK "tdur" counts the thread's CPU time
    instead of wall time: what the page asked of the CPU, whatever else the machine ran."""
    spans = [dict(e, dur=e.get(clock, 0), wall=e["dur"]) for e in events
             if e.get("pid") == pid and e.get("tid") == tid and e.get("ph") == "X" and "dur" in e]
    spans.sort(key=lambda e: (e["ts"], -e["dur"]))
    tasks, end_of_last = [], -1
    for e in spans:                                  # outermost tasks only (they nest)
        if e["name"] in TASKS and e["ts"] >= end_of_last:
            end_of_last = e["ts"] + e["wall"]
            if e["wall"] >= long_us:
                tasks.append(e)
    totals: collections.Counter = collections.Counter()
    out = []
    t_origin = min((e["ts"] for e in spans), default=0)
    for task in tasks:
        end = task["ts"] + task["wall"]
        inner = [e for e in spans if task["ts"] <= e["ts"] < end and e is not task]
        self_us: collections.Counter = collections.Counter()
        stack: list[tuple[dict[str, Any], list[float]]] = []
        top_self = [float(task["dur"])]
        for e in inner:
            while stack and e["ts"] >= stack[-1][0]["ts"] + stack[-1][0]["wall"]:
                done, own = stack.pop()
                self_us[_label(done)] += own[0]
            dur = min(e["dur"], end - e["ts"]) if clock == "dur" else e["dur"]
            (stack[-1][1] if stack else top_self)[0] -= dur
            stack.append((e, [float(dur)]))
        for done, own in stack:
            self_us[_label(done)] += own[0]
        self_us["(task, no event inside)"] += top_self[0]
        totals.update(self_us)
        out.append(((task["ts"] - t_origin) / 1000, task["dur"] / 1000,
                    [(k, v / 1000) for k, v in self_us.most_common(8) if v >= 1000]))
    return out, totals


def cpu_by_event(events: list[dict[str, Any]], pid: int, tid: int
                 ) -> tuple[list[float], collections.Counter]:
    """In one pass (analyse(long_us=0) compares every task with every event: minutes on a
    round's trace): the CPU ms (``tdur``) of each outermost main-thread task, longest first,
    and the self CPU time (us) by event over all of them."""
    spans = [e for e in events if e.get("pid") == pid and e.get("tid") == tid
             and e.get("ph") == "X" and "dur" in e]
    spans.sort(key=lambda e: (e["ts"], -e["dur"]))
    totals: collections.Counter = collections.Counter()
    cpu: list[float] = []
    stack: list[tuple[dict[str, Any], list[float]]] = []
    for e in spans:
        while stack and e["ts"] >= stack[-1][0]["ts"] + stack[-1][0]["dur"]:
            done, own = stack.pop()
            totals[_label(done)] += own[0]
        t = float(e.get("tdur", 0))
        if stack:
            stack[-1][1][0] -= t
        elif e["name"] in TASKS:
            cpu.append(t / 1000)
        else:
            continue
        stack.append((e, [t]))
    for done, own in stack:
        totals[_label(done)] += own[0]
    return sorted(cpu, reverse=True), totals


def _main_thread(events: list[dict[str, Any]]) -> tuple[int, int]:
    """The renderer main thread with the most task time (the page's)."""
    names = {(e["pid"], e["tid"]) for e in events
             if e.get("ph") == "M" and e.get("name") == "thread_name"
             and (e.get("args") or {}).get("name") == "CrRendererMain"}
    busy: collections.Counter = collections.Counter()
    for e in events:
        if (e.get("pid"), e.get("tid")) in names and e.get("name") in TASKS:
            busy[(e["pid"], e["tid"])] += e.get("dur", 0)
    return busy.most_common(1)[0][0]


def _jump_start(events: list[dict[str, Any]]) -> float:
    """The trace time (us) of the scroll's mark where the jumps begin (0 when absent)."""
    return min((e["ts"] for e in events if e.get("name") == "aml-jumps"), default=0.0)


def phase_cpu(events: list[dict[str, Any]], pid: int, tid: int, split: float
              ) -> tuple[list[float], list[float]]:
    """The CPU ms of each outermost main-thread task before SPLIT (wheel steps) and after it
    (jumps), longest first."""
    spans = sorted((e for e in events if e.get("pid") == pid and e.get("tid") == tid
                    and e.get("ph") == "X" and "dur" in e), key=lambda e: (e["ts"], -e["dur"]))
    wheel: list[float] = []
    jumps: list[float] = []
    end = -1.0
    for e in spans:
        if e["name"] in TASKS and e["ts"] >= end:
            end = e["ts"] + e["dur"]
            (jumps if split and e["ts"] >= split else wheel).append(e.get("tdur", 0) / 1000)
    return sorted(wheel, reverse=True), sorted(jumps, reverse=True)


VARIANT = """css => { let s = document.getElementById('aml-variant');
  if (!s) { s = document.createElement('style'); s.id = 'aml-variant'; document.head.appendChild(s); }
  s.textContent = css; }"""


def trace(root: Path, rounds: int, save: Path | None, throttle: float,
          variants: list[tuple[str, str]] | None = None) -> None:
    from playwright.sync_api import sync_playwright
    tmp = Path(tempfile.mkdtemp(prefix="aml-trace-scroll-"))
    with jupyterlab(root, tmp, env=lab_env(), ready_path="aml/api/version") as lab, \
            sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.add_init_script(OBSERVE)
        sidebar = open_sidebar(page, lab, "proj")
        sidebar.get_by_role("button", name="Open runs table").wait_for()
        page.evaluate(CLICK_UNTIL, [".aml-OpenTable", "", ""])
        page.wait_for_timeout(1000)
        if throttle > 1:      # a loaded machine, reproducibly: the renderer's CPU slowed down
            page.context.new_cdp_session(page).send("Emulation.setCPUThrottlingRate",
                                                   {"rate": throttle})
        cycle = [("base", "")] + (variants or [])
        for n in range(rounds * len(cycle)):
            name, css = cycle[n % len(cycle)]
            page.evaluate(VARIANT, css)
            page.evaluate("() => { document.querySelector('.aml-GridBody').scrollTop = 0; }")
            page.wait_for_timeout(300)
            since = page.evaluate("performance.now()")
            browser.start_tracing(page=page, categories=CATEGORIES)
            page.evaluate(SCROLL, [300, 60])
            raw = browser.stop_tracing()
            found = [round(d) for s, d in page.evaluate("window.__longTasks") if s >= since]
            events = json.loads(raw)["traceEvents"]
            if save:
                save.with_suffix(f".{n}.json").write_bytes(raw)
            pid, tid = _main_thread(events)
            tasks, totals = analyse(events, pid, tid)
            print(f"round {n} ({name}): longtask observer saw {len(found)}: {found}")
            for start, ms, parts in tasks:
                print(f"  task at {start:8.0f} ms: {ms:6.1f} ms  " +
                      ", ".join(f"{k} {v:.1f}" for k, v in parts))
            print("  totals over the long tasks (self ms):")
            for k, v in totals.most_common(10):
                print(f"    {v / 1000:8.1f}  {k}")
            cpu, all_totals = cpu_by_event(events, pid, tid)
            print(f"  main thread CPU: {sum(cpu):.0f} ms in {len(cpu)} tasks; the longest "
                  f"{', '.join(f'{ms:.1f}' for ms in cpu[:10])} ms; over 16 ms: "
                  f"{sum(ms > 16 for ms in cpu)}, over 8 ms: {sum(ms > 8 for ms in cpu)}")
            wheel, jumps = phase_cpu(events, pid, tid, _jump_start(events))
            for label, cpus in (("wheel steps", wheel), ("jumps", jumps)):
                print(f"  {label}: CPU {sum(cpus):.0f} ms in {len(cpus)} tasks; the longest "
                      f"{', '.join(f'{ms:.1f}' for ms in cpus[:6])} ms; over 16 ms: "
                      f"{sum(ms > 16 for ms in cpus)}")
            print("  CPU by event over every main-thread task (self ms):")
            for k, v in all_totals.most_common(14):
                print(f"    {v / 1000:8.1f}  {k}")
        browser.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--save", type=Path)
    parser.add_argument("--throttle", type=float, default=1.0,
                        help="CPU slow-down of the page (CDP), to stand for a loaded machine")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=CSS",
                        help="a style sheet for alternate rounds (A/B of CSS in one session)")
    args = parser.parse_args()
    if args.seed:
        from aml_magic.domain.config import init_project
        from tests._runs_history import seed_runs
        seed_runs(init_project(args.root / "proj"), "proj", args.seed)
    variants = [(name, css) for name, _, css in (v.partition("=") for v in args.variant)]
    trace(args.root, args.rounds, args.save, args.throttle, variants)
    return 0


if __name__ == "__main__":
    sys.exit(main())
