"""The runs page of the main area (labextension/src/components/runsPage.ts, runsGrid.ts) in
real JupyterLab and Chromium: it opens from the sidebar's button, the command palette and the
launcher; its grid and headers carry the accessible names; header clicks sort on the server
(the order checked against the history), a second click reverses; the filter box and the
status filter narrow it; a click opens the run's page; and a 100,000-run history stays a
grid of a few dozen rendered rows that fills in wherever it is scrolled to."""
from __future__ import annotations

from typing import Any, Callable

import pytest

from tests._runs_history import seed_runs
from tests._wait import wait_until

from .pages import LabProject, sidebar_page

FIXED_HEADERS = ["Selected", "Name", "Status", "Target", "Started", "Duration"]


def open_by_button(sidebar: Any) -> Any:
    sidebar.node.get_by_role("button", name="Open runs table").click()
    return runs_grid(sidebar.page)


def runs_grid(page: Any) -> Any:
    grid = page.get_by_role("grid", name="Runs")
    grid.wait_for(timeout=30_000)
    return grid


def shown_rows(grid: Any) -> list[tuple[int, str]]:
    """(row index, run id) of the rows rendered with their data, in index order."""
    rows = grid.evaluate("""g => Array.from(g.querySelectorAll('[role=row][data-run-id]'))
        .map(r => [Number(r.getAttribute('aria-rowindex')), r.dataset.runId])""")
    return sorted((int(index), str(run_id)) for index, run_id in rows)


def first_ids(grid: Any, count: int) -> list[str]:
    rows = shown_rows(grid)
    return [run_id for index, run_id in rows if index <= count + 1]


def history_order(project: LabProject, key: Callable[[Any, dict[str, Any]], Any],
                  descending: bool) -> list[str]:
    """Every run of the project's history sorted by KEY(record, last metrics), ties by id."""
    from aml_magic.domain.history import RunStore
    from aml_magic.domain.history.table import param_values
    with RunStore(project.path) as store:
        records = store.list_runs(limit=100_000)
        ids = [r.run_id for r in records]
        last = store.last_metric_values(ids)
        params = param_values(store, ids)
    facts = {r.run_id: {**last.get(r.run_id, {}), **{f"--{k}": v for k, v in
                                                    params.get(r.run_id, {}).items()}}
             for r in records}
    ordered = sorted(records, key=lambda r: (key(r, facts[r.run_id]), r.run_id),
                     reverse=descending)
    return [r.run_id for r in ordered]


@pytest.mark.timeout(300)
def test_the_runs_page_opens_from_the_sidebar_the_palette_and_the_launcher(
        lab: LabProject) -> None:
    # Given a project with a few runs, shown in the sidebar
    ids = seed_runs(lab.path, lab.name, 5)
    with sidebar_page(lab) as sb:
        page = sb.page
        opened: list[str] = []
        for way in ("sidebar", "palette", "launcher"):
            # When the runs table is opened this way
            if way == "sidebar":
                grid = open_by_button(sb)
            elif way == "palette":
                page.keyboard.press("Control+Shift+C")
                palette = page.locator(".lm-CommandPalette-input")
                palette.fill("Open Runs Table")
                page.locator(".lm-CommandPalette-item", has_text="Open Runs Table").first.click()
                grid = runs_grid(page)
            else:
                page.locator("#jp-main-dock-panel").click()
                page.keyboard.press("Control+Shift+L")             # File > New Launcher
                page.locator(".jp-LauncherCard:visible", has_text="Open Runs Table").click()
                grid = runs_grid(page)
            # Then the main area shows the grid with the project's runs, newest first
            wait_until(lambda g=grid: first_ids(g, 5) == ids[::-1], 30, f"the runs, opened by {way}")
            opened.append(way)
            # (closed again, so the next way must open it anew)
            page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current "
                         ".lm-TabBar-tabCloseIcon").click()
            wait_until(lambda: page.get_by_role("grid", name="Runs").count() == 0, 30,
                       "the runs page closed")
        assert opened == ["sidebar", "palette", "launcher"]


@pytest.mark.timeout(300)
def test_the_grid_sorts_on_the_server_filters_and_opens_a_run(lab: LabProject) -> None:
    # Given 60 runs with loss and accuracy metrics and --lr, --batch parameters
    ids = seed_runs(lab.path, lab.name, 60)
    with sidebar_page(lab) as sb:
        grid = open_by_button(sb)
        page = sb.page
        # Then the grid's headers are named by their columns, metrics and parameters included
        headers = grid.get_by_role("columnheader")
        wait_until(lambda: headers.all_inner_texts() and
                   [t.strip(" ▲▼") for t in headers.all_inner_texts()] ==
                   FIXED_HEADERS + ["accuracy", "loss", "--batch", "--lr"], 30, "the headers")
        for name in FIXED_HEADERS + ["loss", "--lr"]:
            assert grid.get_by_role("columnheader", name=name).count() == 1
        # And the rows are rows of the grid, newest first, with a header row on top
        assert grid.get_by_role("row").count() > 20
        wait_until(lambda: first_ids(grid, 20) == ids[::-1][:20], 30, "newest first")
        assert page.locator(".aml-TableCount").inner_text() == "60 runs"

        def sorted_by(header: str, key: Callable[[Any, dict[str, Any]], Any],
                      descending: bool) -> None:
            want = history_order(lab, key, descending)[:20]
            wait_until(lambda: first_ids(grid, 20) == want, 30, f"sorted by {header}")
            expected = "descending" if descending else "ascending"
            assert grid.get_by_role("columnheader", name=header).get_attribute("aria-sort") \
                == expected

        # When the loss header is clicked, then the runs come by loss, highest first
        grid.get_by_role("columnheader", name="loss").click()
        sorted_by("loss", lambda r, f: f["loss"], True)
        # And a second click reverses the order
        grid.get_by_role("columnheader", name="loss").click()
        sorted_by("loss", lambda r, f: f["loss"], False)
        # When a parameter's header is clicked, then its values order the runs
        grid.get_by_role("columnheader", name="--lr").click()
        sorted_by("--lr", lambda r, f: f["--lr"], True)
        # When Name is clicked, then names read A to Z (runs of one name oldest first)
        grid.get_by_role("columnheader", name="Name").click()
        sorted_by("Name", lambda r, f: (r.script, r.created_at), False)
        grid.get_by_role("columnheader", name="Duration").click()
        sorted_by("Duration", lambda r, f: r.duration, True)

        # When "Filter runs" gets a script's name, then only its runs are left
        search = page.get_by_role("searchbox", name="Filter runs")
        search.fill("train3")
        wait_until(lambda: page.locator(".aml-TableCount").inner_text() == "6 runs", 30,
                   "six train3.py runs")
        wait_until(lambda: len(shown_rows(grid)) == 6, 30, "six rows")
        names = grid.locator("[role=row][data-run-id] [data-column=name]").all_inner_texts()
        assert names == ["train3.py"] * 6
        # And an id's tail finds that one run
        search.fill(ids[17][-9:])
        wait_until(lambda: [i for _, i in shown_rows(grid)] == [ids[17]], 30, "one run by id")
        # When the search is cleared and the status filter asks for Failed runs
        search.fill("")
        page.locator(".aml-RunsPage").get_by_role("combobox", name="Status filter",
                                                  exact=True).select_option("Failed")
        failed = [i for n, i in enumerate(ids) if n % 4 == 1]
        wait_until(lambda: page.locator(".aml-TableCount").inner_text() == f"{len(failed)} runs",
                   30, "the failed runs counted")
        wait_until(lambda: sorted(i for _, i in shown_rows(grid)) == sorted(failed), 30,
                   "only the failed runs")

        # When a row is clicked
        target = ids[13]
        grid.locator(f"[role=row][data-run-id='{target}']").click()
        # Then the run's page opens in the main area, its heading the run's name
        heading = page.get_by_role("heading", name="train3.py", exact=True)
        heading.wait_for(timeout=30_000)
        detail = page.locator(f".aml-RunPage .aml-RunDetail[data-run-id='{target}']")
        detail.locator(".aml-DetailHeader .aml-Badge", has_text="Failed").wait_for(timeout=30_000)
        assert page.locator(".lm-TabBar-tab.lm-mod-current", has_text="train3.py").count() == 1


@pytest.mark.timeout(600)
def test_a_hundred_thousand_runs_stay_a_small_grid(lab: LabProject) -> None:
    # Given 100,000 runs seeded through the history layer
    ids = seed_runs(lab.path, lab.name, 100_000)
    with sidebar_page(lab) as sb:
        # When the runs page opens
        grid = open_by_button(sb)
        # Then it counts every run and shows the newest first
        wait_until(lambda: sb.page.locator(".aml-TableCount").inner_text() == "100000 runs", 60,
                   "the count")
        wait_until(lambda: first_ids(grid, 10) == ids[::-1][:10], 30, "the newest rows")
        assert grid.get_attribute("aria-rowcount") == "100001"
        # And only the rows in view (and a few more) are in the page
        assert grid.locator("[role=row]").count() < 80
        # When it is scrolled to the middle and to the end
        body = grid.locator(".aml-GridBody")
        for fraction, label in ((0.5, "the middle"), (1.0, "the end")):
            body.evaluate("(b, f) => { b.scrollTop = f * (b.scrollHeight - b.clientHeight); }",
                          fraction)

            # Then the rows there fill in with the runs at those places, newest first
            def placed() -> bool:
                rows = shown_rows(grid)
                return len(rows) > 10 and all(ids[::-1][index - 2] == run_id
                                              for index, run_id in rows)
            wait_until(placed, 60, f"the rows at {label}")
            assert grid.locator("[role=row]").count() < 80
        assert shown_rows(grid)[-1] == (100_001, ids[0])


@pytest.mark.timeout(300)
def test_the_column_chooser_shows_and_hides_metrics_and_parameters(lab: LabProject) -> None:
    # Given runs with two metrics and two parameters, all four shown as columns
    seed_runs(lab.path, lab.name, 8)
    with sidebar_page(lab) as sb:
        grid = open_by_button(sb)
        headers = grid.get_by_role("columnheader")

        def names() -> list[str]:
            return [t.strip(" ▲▼") for t in headers.all_inner_texts()]
        wait_until(lambda: names()[6:] == ["accuracy", "loss", "--batch", "--lr"], 30, "columns")
        # When the chooser unticks the accuracy metric and the batch parameter
        page = sb.page
        page.get_by_role("button", name="Columns").click()
        chooser = page.get_by_role("group", name="Columns")
        chooser.get_by_role("checkbox", name="accuracy").uncheck()
        chooser.get_by_role("checkbox", name="--batch").uncheck()
        # Then their columns are gone, the others stay, and the cells follow the headers
        wait_until(lambda: names()[6:] == ["loss", "--lr"], 30, "two columns left")
        row = grid.locator("[role=row][data-run-id]").first
        assert row.locator("[role=gridcell]").count() == 8
        # And ticking one again brings its column back in the names' order
        chooser.get_by_role("checkbox", name="accuracy").check()
        wait_until(lambda: names()[6:] == ["accuracy", "loss", "--lr"], 30, "accuracy back")


@pytest.mark.timeout(300)
def test_selected_runs_are_deleted_after_a_confirmation(lab: LabProject) -> None:
    # Given six ended runs in the runs page
    ids = seed_runs(lab.path, lab.name, 6)
    with sidebar_page(lab) as sb:
        grid = open_by_button(sb)
        page = sb.page
        wait_until(lambda: len(shown_rows(grid)) == 6, 30, "six rows")
        delete = page.get_by_role("button", name="Delete selected runs")
        assert delete.is_disabled()
        # When two runs are ticked and Delete is clicked, then a confirmation asks first
        for run_id in ids[1:3]:
            grid.locator(f"[role=row][data-run-id='{run_id}'] .aml-SelectRun").check()
        wait_until(lambda: delete.inner_text() == "Delete 2…", 30, "two selected")
        delete.click()
        dialog = page.locator(".jp-Dialog")
        dialog.locator(".jp-Dialog-header", has_text="Delete 2 runs?").wait_for(timeout=30_000)
        # And keeping them changes nothing
        dialog.get_by_role("button", name="Keep them").click()
        dialog.wait_for(state="detached")
        assert len(shown_rows(grid)) == 6
        # When it is confirmed
        delete.click()
        page.locator(".jp-Dialog").get_by_role("button", name="Delete").click()
        # Then those runs are gone from the grid and from the history, the others stay
        wait_until(lambda: sorted(i for _, i in shown_rows(grid)) == sorted(ids[:1] + ids[3:]),
                   30, "four runs left")
        from aml_magic.domain.history import RunStore
        with RunStore(lab.path) as store:
            assert sorted(r.run_id for r in store.list_runs()) == sorted(ids[:1] + ids[3:])
        assert page.locator(".aml-TableCount").inner_text() == "4 runs"
        assert delete.is_disabled()
        # And Cancel asks too, in words, before it stops anything
        grid.locator(f"[role=row][data-run-id='{ids[0]}'] .aml-SelectRun").check()
        page.get_by_role("button", name="Cancel selected runs").click()
        page.locator(".jp-Dialog-header", has_text="Cancel 1 run?").wait_for(timeout=30_000)
        page.locator(".jp-Dialog").get_by_role("button", name="Keep them").click()


# For every body cell with text (not the checkbox or the badge): [run id, column, its text's
# width, the width its text has, whether it clips (overflow hidden and an ellipsis)].
CELL_FITS = """g => Array.from(g.querySelectorAll('[role=row][data-run-id] [role=gridcell]'))
  .filter(c => !['selected', 'status'].includes(c.dataset.column) && c.textContent)
  .map(c => { const range = document.createRange(); range.selectNodeContents(c);
    const style = getComputedStyle(c);
    return [c.parentElement.dataset.runId, c.dataset.column, range.getBoundingClientRect().width,
      c.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight),
      style.overflowX === 'hidden' && style.textOverflow === 'ellipsis']; })"""


@pytest.mark.timeout(300)
def test_a_cell_clips_only_when_its_text_does_not_fit(lab: LabProject) -> None:
    # Given runs with short names and one whose script's name is far wider than its column
    from aml_magic.domain.history import RunRecord, RunStatus, RunStore
    seed_runs(lab.path, lab.name, 6)
    long_name = "a_rather_long_training_script_name_" * 4 + ".py"
    long_id = f"{lab.name}_9999999999999_long"
    with RunStore(lab.path) as store:
        store.insert_many([RunRecord(
            run_id=long_id, project=lab.name, run_configuration="local", target="local",
            target_type="local", status=RunStatus("Completed"), created_at=1.0, started_at=1.5,
            ended_at=2.5, exit_code=0, script=long_name, command=[long_name])])
    with sidebar_page(lab) as sb:
        grid = open_by_button(sb)
        wait_until(lambda: len(shown_rows(grid)) == 7, 30, "seven rows")
        for width in (1400, 800):
            # When the window is this wide
            sb.page.set_viewport_size({"width": width, "height": 1100})

            def decided() -> list[Any]:
                """Cells whose text overflows without clipping (none expected)."""
                cells = grid.evaluate(CELL_FITS)
                return [c for c in cells if c[2] > c[3] + 0.5 and not c[4]] if cells else [None]
            # Then no cell's text overflows its cell unclipped (what the table shows is unchanged)
            wait_until(lambda: decided() == [], 30, f"no text overflowing at {width} px")
            cells = grid.evaluate(CELL_FITS)
            # And the long name is cut with an ellipsis, while cells that fit do not clip
            assert [c[4] for c in cells if c[0] == long_id and c[1] == "name"] == [True]
            assert sum(not c[4] for c in cells) > len(cells) / 2, cells
