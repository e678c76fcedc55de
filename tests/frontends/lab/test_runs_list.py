"""The runs list component (labextension/src/components/runsList.ts) in real JupyterLab: rows
newest first with status, script, target, duration and latest metrics; pages of 20; status and
target filters; a new run appears without a reload; a click opens that run's detail."""
from __future__ import annotations

import time

import pytest

from tests._wait import wait_until

from .pages import LabProject, sidebar_page

ENDED = ("Completed", "Failed", "Canceled")
TARGETS = ("local", "docker")
RUNS = 23                                   # a page of 20, then 3


def seed_history(project: LabProject, count: int) -> list[str]:
    """COUNT ended runs in the project's history (real SQLite, as the server reads it), one
    second apart, every third Failed, targets alternating; run i logged loss=1/(i+1).
    Returns their ids, oldest first."""
    from aml_magic.domain.history import RunRecord, RunStatus, RunStore
    from aml_magic.domain.history.records import Metric
    start = time.time() - 10 * count
    records = [RunRecord(run_id=f"{project.name}_{int((start + i) * 1000):013d}_{i:04x}",
                         project=project.name, run_configuration=TARGETS[i % 2],
                         target=TARGETS[i % 2], target_type=TARGETS[i % 2],
                         status=RunStatus(ENDED[i % 3]), created_at=start + i,
                         started_at=start + i, ended_at=start + i + 2, exit_code=i % 3,
                         command=[f"train{i}.py"], script=f"train{i}.py")
               for i in range(count)]
    with RunStore(project.path) as store:
        store.insert_many(records)
        for i, record in enumerate(records):
            store.add_metrics(record.run_id, [Metric("loss", 1 / (i + 1))])
    return [r.run_id for r in records]


def shown_ids(sidebar: object) -> list[str]:
    rows = sidebar.locator(".aml-Run")                       # type: ignore[attr-defined]
    return [rows.nth(i).get_attribute("data-run-id") for i in range(rows.count())]


@pytest.mark.timeout(240)
def test_runs_list_renders_pages_and_filters(lab: LabProject) -> None:
    # Given a project with 23 ended runs
    ids = seed_history(lab, RUNS)
    newest_first = ids[::-1]
    with sidebar_page(lab) as sb:
        runs = sb.node.locator(".aml-RunsList")
        info = runs.locator(".aml-PageInfo")
        # When the sidebar shows the project
        # Then the first page lists the 20 newest runs, newest first
        info.filter(has_text="1–20 of 23").wait_for(timeout=30_000)
        assert shown_ids(runs) == newest_first[:20]
        # And each row shows the run's status, script, target, duration and metrics
        newest = runs.locator(f".aml-Run[data-run-id='{ids[-1]}']")
        assert newest.get_attribute("data-status") == ENDED[(RUNS - 1) % 3]
        assert newest.locator(".aml-Badge").inner_text() == ENDED[(RUNS - 1) % 3]
        assert newest.locator(".aml-RunId").inner_text().startswith(f"train{RUNS - 1}.py")
        assert newest.locator(".aml-RunTarget").inner_text() == TARGETS[(RUNS - 1) % 2]
        assert newest.locator(".aml-Duration").inner_text() == "2.00s"
        assert newest.locator(".aml-RunMetrics").inner_text() == f"loss={1 / RUNS:.3g}"
        assert runs.locator(".aml-PrevPage").is_disabled()

        # When the next page is asked for, then it holds the 3 oldest runs
        runs.locator(".aml-NextPage").click()
        info.filter(has_text="21–23 of 23").wait_for(timeout=30_000)
        wait_until(lambda: shown_ids(runs) == newest_first[20:], 30, "the second page's rows")
        assert runs.locator(".aml-NextPage").is_disabled()
        # And the previous page is the first one again
        runs.locator(".aml-PrevPage").click()
        info.filter(has_text="1–20 of 23").wait_for(timeout=30_000)
        wait_until(lambda: shown_ids(runs) == newest_first[:20], 30, "the first page's rows")

        # When the status filter asks for Failed runs, then only those are listed
        failed = [i for i in newest_first if ids.index(i) % 3 == 1]
        runs.locator(".aml-StatusFilter").select_option("Failed")
        info.filter(has_text=f"1–{len(failed)} of {len(failed)}").wait_for(timeout=30_000)
        wait_until(lambda: shown_ids(runs) == failed, 30, "only the failed runs")
        # And the target filter narrows them to one target
        failed_docker = [i for i in failed if ids.index(i) % 2 == 1]
        runs.locator(".aml-TargetFilter").select_option("docker")
        info.filter(has_text=f"of {len(failed_docker)}").wait_for(timeout=30_000)
        wait_until(lambda: shown_ids(runs) == failed_docker, 30, "the failed docker runs")
        assert all(r == "docker" for r in runs.locator(".aml-RunTarget").all_inner_texts())
        # And no run matches a status none has
        runs.locator(".aml-StatusFilter").select_option("Running")
        runs.locator(".aml-Empty", has_text="No runs match.").wait_for(timeout=30_000)
        assert info.inner_text() == "0 runs"


@pytest.mark.timeout(240)
def test_runs_list_shows_a_new_run_and_opens_a_detail(lab: LabProject) -> None:
    # Given a project with 3 ended runs, shown in the sidebar
    ids = seed_history(lab, 3)
    with sidebar_page(lab) as sb:
        runs = sb.node.locator(".aml-RunsList")
        runs.locator(".aml-PageInfo", has_text="1–3 of 3").wait_for(timeout=30_000)
        # When another run is recorded (by the CLI, say) while the page is open
        newer = seed_history(lab, 1)[0]
        # Then it appears on top without a reload
        runs.locator(".aml-PageInfo", has_text="1–4 of 4").wait_for(timeout=30_000)
        wait_until(lambda: shown_ids(runs)[:1] == [newer], 30, "the new run listed first")
        # When a row is clicked
        row = runs.locator(f".aml-Run[data-run-id='{ids[1]}']")
        row.click()
        # Then it is marked selected and that run's detail opens, with the same status
        wait_until(lambda: "aml-mod-selected" in (row.get_attribute("class") or ""), 30,
                   "the clicked row selected")
        detail = sb.node.locator(f".aml-RunDetail[data-run-id='{ids[1]}']")
        detail.locator(".aml-DetailHeader .aml-Badge", has_text=ENDED[1]).wait_for(timeout=30_000)
        assert runs.locator(".aml-Run.aml-mod-selected").count() == 1
