"""Turning a notebook cell into a script file a target can run.

The cell text goes through IPython's ``transform_cell`` so ``%magic`` and ``!cmd`` lines become
plain Python calls on ``get_ipython()``; outside IPython that name does not exist, so a small
stand-in is prepended whenever the transformed code uses it: ``!cmd`` still runs the command
on the target, ``%time`` still runs its statement, other magics are skipped with a note in the
run's log.
"""
from __future__ import annotations

import hashlib
from pathlib import Path, PurePosixPath

from aml_magic.errors import AmlError
from aml_magic.frontends.notebook.exported_files import write_export

CELLS_FOLDER = PurePosixPath(".aml") / "cells"

SHIM = '''\
# --- added by aml_magic: IPython syntax from the cell runs through this stand-in -------------
def get_ipython():
    class _AmlShell:
        def system(self, cmd):
            import subprocess
            # the cell's own `!` line is shell syntax by definition
            return subprocess.run(["/bin/sh", "-c", cmd], check=False).returncode
        def getoutput(self, cmd, split=True):
            import subprocess
            out = subprocess.run(["/bin/sh", "-c", cmd], check=False, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, universal_newlines=True).stdout
            return out.splitlines() if split else out
        def run_line_magic(self, name, line, *args, **kwargs):
            if name == "time":
                import sys, time
                frame, start = sys._getframe(1), time.time()
                exec(compile(line, "<%time>", "exec"), frame.f_globals, frame.f_locals)
                print("Wall time: %.3f s" % (time.time() - start), flush=True)
                return None
            print("aml_magic: %" + name + " skipped outside IPython", flush=True)
        def run_cell_magic(self, name, line, cell, *args, **kwargs):
            print("aml_magic: %%" + name + " skipped outside IPython", flush=True)
    return _AmlShell()
# --- end of aml_magic stand-in ------------------------------------------------------------
'''


def cell_script(transformed: str) -> str:
    """The script text for an already transformed cell."""
    text = transformed if transformed.endswith("\n") else transformed + "\n"
    if "get_ipython()" in text:
        text = SHIM + text
    return text


def export_path(project_root: Path, text: str, name: str | None) -> PurePosixPath:
    """Where the cell goes, relative to the project: ``name`` when given (must stay inside the
    project and end in ``.py``), else a content-addressed file under ``.aml/cells/``."""
    if not name:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
        return CELLS_FOLDER / f"cell_{digest}.py"
    rel = PurePosixPath(name.replace("\\", "/"))
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise AmlError(f"--name {name}: give a path inside the project {project_root} "
                       "(relative, without '..')")
    if rel.suffix != ".py":
        raise AmlError(f"--name {name}: the exported cell is a Python script; use a name ending "
                       "in .py")
    if rel.parts[0] in (".aml", ".git", "aml_config"):
        raise AmlError(f"--name {name}: {rel.parts[0]}/ is reserved; pick a file elsewhere in "
                       "the project")
    return rel


def write_cell(project_root: Path, text: str, name: str | None, *, force: bool = False) -> str:
    """Write the script (only when its content changed, so snapshot hashes stay cached) and
    return its project-relative path. A ``--name`` file the magics did not write is never
    overwritten without ``force`` (see ``exported_files``)."""
    rel = export_path(project_root, text, name)
    if name:
        write_export(project_root, rel, text.encode("utf-8"), what=f"--name {name}", force=force)
        return rel.as_posix()
    path = project_root.joinpath(*rel.parts)
    if not (path.is_file() and path.read_text(encoding="utf-8") == text):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return rel.as_posix()
