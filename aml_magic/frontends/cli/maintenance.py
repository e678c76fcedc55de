"""``aml history prune|repair`` and ``aml computetarget secure|gc``: keeping a project healthy.

Kept apart from cli.py (which builds the parser and the everyday verbs) and registered in its
``GROUPS`` table like every other group."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aml_magic.frontends import arguments as A

if TYPE_CHECKING:
    from aml_magic.service.contract.models import GcPlanJson, PrunePlanJson


def add_history(group: argparse.ArgumentParser,
                more: Callable[[Any], None] | None = None) -> None:
    """The history group's verbs; ``more`` adds the others (cli_history's list, info...)."""
    verbs = group.add_subparsers(dest="verb", required=True, parser_class=A.ArgumentParser)
    if more is not None:
        more(verbs)
    p = verbs.add_parser("prune", help="forget ended runs and remove their folders (dry run "
                                       "unless --yes)")
    A.add_project(p)
    A.add_output(p)
    p.add_argument("--older-than", metavar="AGE", help="runs created before AGE ago (30d, 12h)")
    p.add_argument("--status", help="only runs that ended so (Completed, Failed, Canceled)")
    p.add_argument("--keep-last", type=int, metavar="N", help="keep the N newest matching runs")
    p.add_argument("--yes", action="store_true", help="remove them (default: only list)")
    p.set_defaults(handler=cmd_history_prune)
    p = verbs.add_parser("repair", help="rebuild a damaged history.db from the run folders "
                                        "(the damaged file is kept aside)")
    A.add_project(p)
    p.add_argument("--force", action="store_true",
                   help="rebuild even when history.db looks healthy")
    p.set_defaults(handler=cmd_history_repair)


def add_computetarget_secure(verbs: Any) -> None:
    p = verbs.add_parser("secure", help="move a plaintext password of a .compute file into "
                                        "the secret store (the file keeps a reference)")
    A.add_project(p)
    p.add_argument("name", help="the compute target (its .compute file's name)")
    p.set_defaults(handler=cmd_target_secure)


def add_computetarget_gc(verbs: Any) -> None:
    p = verbs.add_parser("gc", help="remove what a target keeps that no recent run uses: "
                                    "remote objects, spare trees, run folders, environment "
                                    "images (dry run unless --yes)")
    A.add_project(p)
    A.add_output(p)
    p.add_argument("name", help="the compute target (its .compute file's name)")
    p.add_argument("--keep-days", type=float, default=None, metavar="N",
                   help="keep what runs of the last N days use (default 7); runs not ended "
                        "are always kept")
    p.add_argument("--yes", action="store_true", help="remove them (default: only list)")
    p.set_defaults(handler=cmd_target_gc)


def cmd_target_gc(args: argparse.Namespace) -> int:
    from aml_magic.frontends.render import format_size
    from aml_magic.targets.gc import DEFAULT_KEEP_DAYS, plan, remove
    from aml_magic.service.workspace import Workspace
    ws = Workspace(getattr(args, "project", None))
    try:
        keep = DEFAULT_KEEP_DAYS if args.keep_days is None else args.keep_days
        chosen = plan(ws, args.name, keep_days=keep)
        from aml_magic.frontends.cli.main import _emit
        shown: GcPlanJson = {"removed": bool(args.yes), "target": chosen.target,
                             "keep_days": keep, "total_bytes": chosen.total, "items": [
                                 {"kind": i.kind, "name": i.name, "bytes": i.size}
                                 for i in chosen.items]}
        _emit(args, shown,
              lambda: "\n".join(f"{i.kind:<6}  {i.name}  {format_size(i.size):>9}"
                                for i in chosen.items))
        if args.yes:
            remove(ws, chosen)
    finally:
        ws.close()
    verb = "removed" if args.yes else "would remove"
    hint = "" if args.yes or not chosen.items else "; add --yes to remove them"
    print(f"{verb} {len(chosen.items)} item(s) from '{chosen.target}', "
          f"{format_size(chosen.total)} ({chosen.total} bytes){hint}", file=sys.stderr)
    return 0


def cmd_target_secure(args: argparse.Namespace) -> int:
    from aml_magic.domain.secrets import is_reference
    from aml_magic.service.workspace import Workspace
    ws = Workspace(getattr(args, "project", None))
    compute = ws.config.compute(args.name)
    if not compute.password or is_reference(compute.password):
        print(f"{compute.path}: no plaintext password; nothing to do")
        return 0
    ref = ws.store_secret("password", f"{compute.name}-{compute.username or 'user'}",
                          compute.password)
    compute.password = ref
    ws.config.write_compute(compute)
    print(f"{compute.path}: the password is now in the secret store; the file holds {ref}")
    return 0


def _project_root(args: argparse.Namespace) -> Path:
    from aml_magic.domain.config import find_project
    start = Path(getattr(args, "project", None) or Path.cwd())
    return find_project(start.expanduser().resolve())


def cmd_history_prune(args: argparse.Namespace) -> int:
    from aml_magic.domain.history import RunStore
    from aml_magic.domain.history.prune import parse_age, plan
    from aml_magic.frontends.render import format_size
    older = None if args.older_than is None else parse_age(args.older_than)
    with RunStore(_project_root(args)) as store:
        chosen = plan(store, older_than=older, status=args.status, keep_last=args.keep_last)
        total = sum(c.size for c in chosen)
        from aml_magic.frontends.cli.main import _emit
        shown: PrunePlanJson = {"removed": bool(args.yes), "total_bytes": total, "runs": [
            {"run_id": c.record.run_id, "status": c.record.status.value,
             "created_at": c.record.created_at, "bytes": c.size} for c in chosen]}
        _emit(args, shown,
            lambda: "\n".join(
                f"{c.record.run_id}  {c.record.status.value:<9}  "
                f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(c.record.created_at))}  "
                f"{format_size(c.size):>9}" for c in chosen))
        if args.yes:
            for c in chosen:
                store.delete_run(c.record.run_id)
        verb = "removed" if args.yes else "would remove"
        hint = "" if args.yes or not chosen else "; add --yes to remove them"
        print(f"{verb} {len(chosen)} run(s), {format_size(total)} ({total} bytes){hint}",
              file=sys.stderr)
    return 0


def cmd_history_repair(args: argparse.Namespace) -> int:
    from aml_magic.domain.history.repair import damage, repair
    root = _project_root(args)
    if not args.force and damage(root) is None:
        print(f"{root / '.aml' / 'history.db'} is healthy: nothing to repair (--force rebuilds "
              "it from the run folders anyway; metrics of remote runs live only in it)")
        return 0
    report = repair(root)
    for path in report.kept_aside:
        print(f"kept the damaged file as {path}")
    print(f"rebuilt {report.runs} run(s), {report.metrics} metric value(s), {report.outputs} "
          "output file(s) from the run folders")
    if report.without_record:
        print(f"{len(report.without_record)} run folder(s) held no record and were rebuilt as "
              f"Failed: {', '.join(report.without_record[:10])}")
    return 0


