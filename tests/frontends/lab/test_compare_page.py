"""The compare page (labextension/src/components/comparePage.ts) and the runs page's sweep
filter (sweepFilter.ts) in real JupyterLab and Chromium over a history seeded through
``RunStore``: the sweep filter narrows the grid to a sweep's child runs; Compare on ticked
runs (or on the chosen sweep) opens a tab whose parameters and final metrics are the
history's, with differing rows marked; each metric's series of every run is overlaid; the
scatter has one point per run, and its log toggle turns the x axis logarithmic."""
from __future__ import annotations

import math
import re
from typing import Any

import pytest

from tests._runs_history import seed_runs
from tests._wait import wait_until

from ..sidebar_page import shoot
from .pages import LabProject, sidebar_page
from .test_runs_table import open_by_button

LRS = [1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0]


def seed_sweep(lab: LabProject) -> tuple[str, list[str]]:
    """A sweep parent and one child per LR (``fit.py --lr LR --seed 7``), each logging a
    3-step ``loss`` series (its last value ``0.1 + i / 10``) and an ``accuracy``."""
    from aml_magic.domain.history import RunRecord, RunStatus, RunStore
    from aml_magic.domain.history.records import Metric
    base = 1.7e9

    def record(i: int, **kw: Any) -> RunRecord:
        return RunRecord(run_id=f"{lab.name}_{int((base + i) * 1000):013d}_{i:04x}",
                         project=lab.name, target="local", target_type="local",
                         status=RunStatus.COMPLETED, created_at=base + i, started_at=base + i,
                         ended_at=base + i + 2, exit_code=0, **kw)
    parent = record(0, script="sweep.py", command=["sweep.py"], kind="sweep")
    children = [record(i + 1, script="fit.py", parent_run_id=parent.run_id,
                       command=["fit.py", "--lr", repr(lr), "--seed", "7"])
                for i, lr in enumerate(LRS)]
    with RunStore(lab.path) as store:
        store.insert_many([parent, *children])
        for i, child in enumerate(children):
            store.add_metrics(child.run_id, [Metric("loss", 2.0 - s / 2 + i / 10 - 0.9 * (s == 2), s,
                                                    base + i) for s in range(3)])
            store.add_metrics(child.run_id, [Metric("accuracy", 0.5 + i / 20, None, base + i)])
    return parent.run_id, [c.run_id for c in children]


def history_facts(lab: LabProject, ids: list[str]) -> tuple[dict[str, dict[str, Any]],
                                                          dict[str, dict[str, Any]]]:
    """(parameters, last metric values) of the runs IDS, as the history has them."""
    from aml_magic.domain.history import RunStore
    from aml_magic.domain.history.table import param_values
    with RunStore(lab.path) as store:
        return param_values(store, ids), store.last_metric_values(ids)


def table_values(page: Any, label: str) -> dict[str, dict[str, str]]:
    """A compare table's cells: row name -> run id -> text."""
    cells = page.get_by_role("table", name=label).evaluate("""t => Array.from(
        t.querySelectorAll('tbody tr')).flatMap(r => Array.from(r.querySelectorAll('td'))
        .map(c => [r.dataset.name, c.dataset.runId, c.textContent]))""")
    found: dict[str, dict[str, str]] = {}
    for name, run_id, text in cells:
        found.setdefault(name, {})[run_id] = text
    return found


def differing_rows(page: Any, label: str) -> set[str]:
    return set(page.get_by_role("table", name=label).evaluate(
        "t => Array.from(t.querySelectorAll('tbody tr.aml-mod-differs')).map(r => r.dataset.name)"))


def assert_shown(text: str, value: float) -> None:
    """A number as the page shows it (3 significant digits) is the history's VALUE."""
    assert math.isclose(float(text), value, rel_tol=5e-3), (text, value)


def runs_tab(page: Any) -> Any:
    return page.locator("#jp-main-dock-panel .lm-TabBar-tabLabel", has_text=re.compile(r"^Runs$"))


def scatter_points(page: Any) -> list[dict[str, Any]]:
    return page.locator(".aml-ComparePage:visible svg.aml-Scatter").evaluate("""s => Array.from(
        s.querySelectorAll('circle.aml-ScatterPoint')).map(c => ({run: c.dataset.runId,
        x: Number(c.dataset.x), y: Number(c.dataset.y), cx: Number(c.getAttribute('cx'))}))""")


@pytest.mark.timeout(300)
def test_the_sweep_filter_and_the_compare_page(lab: LabProject) -> None:
    # Given a sweep over six learning rates and a few runs outside it
    parent, children = seed_sweep(lab)
    others = seed_runs(lab.path, lab.name, 4)
    with sidebar_page(lab, height=2100) as sb:
        page = sb.page
        grid = open_by_button(sb)
        count = page.locator(".aml-TableCount")
        wait_until(lambda: count.inner_text() == f"{len(children) + len(others) + 1} runs", 30,
                   "every run listed")
        # When the sweep filter lists the sweep and it is chosen
        sweep_filter = page.get_by_role("combobox", name="Sweep filter")
        wait_until(lambda: sweep_filter.locator(f"option[value='{parent}']").count() == 1, 30,
                   "the sweep offered")
        assert "(6 runs)" in sweep_filter.locator(f"option[value='{parent}']").inner_text()
        sweep_filter.select_option(parent)
        # Then the grid shows its child runs only
        wait_until(lambda: count.inner_text() == "6 runs", 30, "the sweep's runs")
        wait_until(lambda: sorted(grid.evaluate("""g => Array.from(g.querySelectorAll(
            '[role=row][data-run-id]')).map(r => r.dataset.runId)""")) == sorted(children), 30,
            "the sweep's rows")
        # When three of them are ticked and compared
        chosen = [children[0], children[2], children[5]]
        for run_id in chosen:
            grid.locator(f"[role=row][data-run-id='{run_id}'] input.aml-SelectRun").check()
        compare = page.get_by_role("button", name="Compare selected runs")
        wait_until(lambda: compare.inner_text() == "Compare 3", 10, "Compare 3")
        compare.click()
        region = page.get_by_role("region", name="Compare runs")
        region.get_by_role("table", name="Parameters").wait_for(timeout=30_000)
        # Then the parameters and final metrics are the history's, one column per run
        params, last = history_facts(lab, chosen)
        shown = table_values(page, "Parameters")
        assert set(shown) == {"lr", "seed"}
        for run_id in chosen:
            assert_shown(shown["lr"][run_id], params[run_id]["lr"])
            assert shown["seed"][run_id] == "7"
        metrics = table_values(page, "Final metrics")
        assert set(metrics) == {"loss", "accuracy"}
        for run_id in chosen:
            for name in ("loss", "accuracy"):
                assert_shown(metrics[name][run_id], last[run_id][name])
        # And the rows whose values differ are marked, the equal ones are not
        assert differing_rows(page, "Parameters") == {"lr"}
        assert differing_rows(page, "Final metrics") == {"loss", "accuracy"}
        # And each series is overlaid: one line per run, of its three steps
        lines = region.locator("svg[data-metric='loss'] path.aml-SeriesLine")
        assert sorted(lines.evaluate_all("ps => ps.map(p => p.dataset.runId)")) == sorted(chosen)
        assert lines.evaluate_all("ps => ps.map(p => p.dataset.points)") == ["3"] * 3
        # And the scatter of loss against --lr has one point per run, at its values
        region.get_by_role("combobox", name="Scatter metric").select_option("loss")
        region.get_by_role("combobox", name="Scatter parameter").select_option("lr")
        points = scatter_points(page)
        assert sorted(p["run"] for p in points) == sorted(chosen)
        for p in points:
            assert p["x"] == params[p["run"]]["lr"] and p["y"] == last[p["run"]]["loss"]
        scatter = region.locator("svg.aml-Scatter")
        assert scatter.get_attribute("data-x-scale") == "linear"
        linear_ticks = scatter.locator(".aml-XTick").all_text_contents()
        # When the log toggle is turned on
        region.get_by_role("checkbox", name="Log x axis").check()
        # Then the x axis is logarithmic: powers of ten, and 1e-4, 1e-2, 10 evenly apart
        wait_until(lambda: region.locator("svg.aml-Scatter").get_attribute("data-x-scale")
                   == "log", 10, "a log x axis")
        log_ticks = region.locator("svg.aml-Scatter .aml-XTick").all_text_contents()
        assert log_ticks != linear_ticks and all(math.log10(float(t)).is_integer()
                                                 for t in log_ticks), log_ticks
        cx = sorted(p["cx"] for p in scatter_points(page))
        assert abs((cx[1] - cx[0]) / 2 - (cx[2] - cx[1]) / 3) < 1.0, cx
        shoot(region, "lab_compare_page.png")
        # When the sweep itself is compared (nothing ticked, the sweep chosen)
        runs_tab(page).click()
        for run_id in chosen:
            grid.locator(f"[role=row][data-run-id='{run_id}'] input.aml-SelectRun").uncheck()
        wait_until(lambda: compare.inner_text() == "Compare sweep", 10, "Compare sweep")
        compare.click()
        # Then its tab compares all six runs: six points on the scatter
        wait_until(lambda: page.locator(".aml-ComparePage:visible circle.aml-ScatterPoint")
                   .count() == len(children), 30, "a point per child run")
        assert sorted(p["run"] for p in scatter_points(page)) == sorted(children)
        # When "all runs" is chosen again, the grid lists every run
        runs_tab(page).click()
        sweep_filter.select_option("")
        wait_until(lambda: count.inner_text() == f"{len(children) + len(others) + 1} runs", 30,
                   "every run again")
