"""How ``aml history list`` and ``history compare`` show runs, shared by the personal verbs
(``cli/history.py``, the project's SQLite history) and a linked project's (``cli/team_runs.py``,
the workspace server's answers): one output for both, whichever history holds the runs."""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence

from aml_magic.errors import AmlError
from aml_magic.frontends.cli.output import emit
from aml_magic.frontends.render import history_table

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def sorted_by_metric(records: Sequence[Any], last: Mapping[str, Mapping[str, Any]],
                     names: Sequence[str], metric: str, descending: bool) -> list[Any]:
    """RECORDS by METRIC's last value (ascending unless DESCENDING), runs without it last;
    one line naming the metrics when no listed run logged it."""
    if metric not in names:
        raise AmlError(f"--sort-by {metric}: no listed run logged it; metrics: "
                       + (", ".join(names) or "none"))

    def value(record: Any) -> Any:
        return last.get(record.run_id, {}).get(metric)
    have = [r for r in records if _sortable(value(r))]
    have.sort(key=value, reverse=descending)
    return have + [r for r in records if not _sortable(value(r))]


def _sortable(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def show_history(args: argparse.Namespace, records: Sequence[Any],
                 last: Mapping[str, Mapping[str, Any]], names: Sequence[str],
                 rows: Callable[[], object]) -> None:
    """The table (metrics as columns) or, with ``-o``/``--query``, ROWS() as JSON."""
    if args.output == "table" and not args.query:
        print(history_table(records, last, names))
    else:
        emit(args, rows(), "")


def terminal_width() -> int | None:
    """The width to fit on a terminal (its size, or $COLUMNS there); None when piped, as
    ``ls`` does, so a script reading the table gets it whole (readline exports COLUMNS into
    processes that never had a terminal, so $COLUMNS alone is no sign of one). What
    ``shutil.get_terminal_size`` reads, without importing ``shutil`` (~2 ms: its archive
    modules)."""
    if not sys.stdout.isatty():
        return None
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns > 0:
        return columns
    try:
        return os.get_terminal_size(sys.stdout.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        return 80
