#!/usr/bin/env python3
"""Run the quickstart notebook headless on a real kernel (nbclient) and print where the executed
copy is. Usage: python3 scripts/run_demo.py [--notebook PATH] [--workdir DIR] [--html]"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT = REPO / "demo_notebooks" / "01_quickstart_local.ipynb"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebook", type=Path, default=DEFAULT)
    parser.add_argument("--workdir", type=Path,
                        help="folder to run in (default: a new temporary folder)")
    parser.add_argument("--timeout", type=int, default=300, help="seconds per cell")
    parser.add_argument("--html", action="store_true", help="also write an HTML copy (nbconvert)")
    parser.add_argument("--kernel", default="aml-magic",
                        help="kernelspec to run on (default: aml-magic, the one "
                             "scripts/quickstart.sh registers for the project's .venv)")
    args = parser.parse_args(argv)

    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="aml-demo-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    # the kernel imports aml_magic from this checkout even when it is not installed
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH"))
                                               if p)
    nb = nbformat.read(str(args.notebook), as_version=4)
    out = workdir / args.notebook.name
    client = NotebookClient(nb, timeout=args.timeout, kernel_name=args.kernel,
                            resources={"metadata": {"path": str(workdir)}})
    print(f"Running {args.notebook.name} in {workdir} …", flush=True)
    failed = False
    try:
        client.execute()
    except CellExecutionError as err:
        failed = True
        print(f"A cell failed:\n{err}", file=sys.stderr)
    finally:
        nbformat.write(nb, str(out))
    print(f"Executed notebook: {out}")
    if args.html:
        from nbconvert import HTMLExporter
        body, _ = HTMLExporter().from_notebook_node(nb)
        html = out.with_suffix(".html")
        html.write_text(body, encoding="utf-8")
        print(f"HTML copy: {html}")
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("name") == "stderr":
                print(f"  cell said: {output.get('text', '').strip()}", file=sys.stderr)
    project = workdir / "demo_project"
    if project.is_dir():
        from aml_magic import Workspace
        for run in Workspace(project).runs(limit=5):
            rec = run.refresh()
            print(f"  run {rec.run_id}: {rec.status.value}, metrics "
                  f"{ {m.name: m.value for m in run.metrics()} }, outputs "
                  f"{[a.path for a in run.outputs()]}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
