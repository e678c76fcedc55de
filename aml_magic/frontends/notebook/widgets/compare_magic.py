"""``%aml_compare RUN_ID... | --last N | --sweep PARENT_ID``: the body of the magic (magics.py
registers it, commands.py calls this). Picks the runs and builds their comparison with the
same functions as ``aml history compare``, then shows the widget, or the static view without
ipywidgets."""
from __future__ import annotations

from typing import Any

from IPython.display import display

from aml_magic.frontends.arguments import ArgumentParser, add_project, parse_line
from aml_magic.frontends.notebook.widgets.compare_view import CompareModel, CompareView
from aml_magic.service.compare import comparison, metric_series, select_records

PROG = "%aml_compare"


def compare_parser(prog: str = PROG) -> ArgumentParser:
    parser = ArgumentParser(prog=prog, description="Compare runs side by side, with charts.")
    add_project(parser)
    parser.add_argument("runs", nargs="*", metavar="RUN_ID",
                        help="runs to compare (unique prefixes will do)")
    parser.add_argument("--last", type=int, metavar="N", help="the N newest runs")
    parser.add_argument("--sweep", metavar="PARENT_ID", help="the child runs of a sweep")
    return parser


def show_compare(magics: Any, line: str) -> Any:
    """Parse LINE, compare the runs it names and display the result; returns what was shown.
    ``magics`` is the kernel's ``AmlMagics`` (its workspace and widget choice)."""
    args = parse_line(compare_parser(), line)
    ws = magics.workspace(args.project)
    records = select_records(ws, args.runs, last=args.last, sweep=args.sweep, command=PROG)
    if any(not record.status.is_terminal() for record in records):
        ws.reconcile_active()             # live runs: their targets say where they are now
        records = [ws.store.get(record.run_id) for record in records]
    model = CompareModel(comparison(ws.store, records), metric_series(ws.store, records))
    shown: Any
    if magics.widgets_enabled():
        # the widget is an ipywidgets one (heavy, third-party): only when widgets are shown
        from aml_magic.frontends.notebook.widgets.compare import CompareWidget
        shown = CompareWidget(model)
    else:
        shown = CompareView(model)
    display(shown)
    return shown
