"""What ``aml project restore`` asks and says, the same for a personal project and a linked one
(``cli/project.py``, ``cli/team_runs.py``)."""
from __future__ import annotations

import sys
from pathlib import Path

from aml_magic.frontends.termsafe import neutralise
from aml_magic.service.restore import RestorePlan

#: Files listed before asking to overwrite them (the rest are counted).
SHOWN_OVERWRITES = 20


def confirm_overwrite(paths: list[str], dest: Path) -> bool:
    """List the files restore would overwrite and ask; without a terminal, refuse in one line."""
    if not sys.stdin.isatty():
        print(f"aml: restore would overwrite {len(paths)} file(s) in {dest} "
              f"({neutralise(', '.join(paths[:3]))}{', ...' if len(paths) > 3 else ''}); "
              "nothing was written: run again with --yes to overwrite them", file=sys.stderr)
        return False
    print(f"restore would overwrite {len(paths)} file(s) in {dest}:")
    for path in paths[:SHOWN_OVERWRITES]:
        print(f"  {neutralise(path)}")
    if len(paths) > SHOWN_OVERWRITES:
        print(f"  ... and {len(paths) - SHOWN_OVERWRITES} more")
    if input("Overwrite them? [y/N] ").strip().lower() in ("y", "yes"):
        return True
    print("nothing was written", file=sys.stderr)
    return False


def report_restored(run_id: str, dest: Path, written: int, plan: RestorePlan) -> None:
    print(f"restored the snapshot of run {run_id} into {dest}: {written} file(s) written, "
          f"{len(plan.unchanged)} already as they were")
    if plan.skipped:
        print(f"left out {len(plan.skipped)} file(s) under .aml/ (restore never writes there)")
