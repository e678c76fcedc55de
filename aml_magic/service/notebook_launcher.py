"""Which notebook a kernel runs when no front end said so.

Jupyter Server names it (``JPY_SESSION_NAME``, ipykernel's ``__session__``) and so does VS Code
(``__vsc_ipynb_file__``); a notebook executed from the command line (``jupyter execute``,
``jupyter nbconvert --execute``, papermill: nbclient underneath) gets none of them. There the
process that started the kernel is the command itself, and its arguments name the notebook:
the kernel's parent is read from ``/proc`` (Linux; elsewhere there is no answer).
"""
from __future__ import annotations

import os
from pathlib import Path

NOTEBOOK_SUFFIX = ".ipynb"


def launcher_notebook(parent_pid: int | None = None) -> str | None:
    """The absolute path of the notebook named on the kernel's parent's command line: the one
    ``.ipynb`` argument that exists, else the first existing one (papermill's input precedes
    its output); None when there is none or ``/proc`` cannot tell."""
    pid = os.getppid() if parent_pid is None else parent_pid
    proc = Path("/proc") / str(pid)
    try:
        argv = (proc / "cmdline").read_bytes().split(b"\0")
        cwd = Path(os.readlink(proc / "cwd"))
    except OSError:
        return None
    for raw in argv[1:]:
        arg = os.fsdecode(raw)
        if not arg.endswith(NOTEBOOK_SUFFIX) or arg.startswith("-"):
            continue
        path = Path(arg).expanduser()
        path = path if path.is_absolute() else cwd / path
        if path.is_file():
            return str(path)
    return None


def resolve_session_path(path: str, cwd: Path) -> Path:
    """A session name as a path: absolute as given; a relative one (Jupyter Server gives the
    path from its root when the front end sent no name) is tried from the kernel's working
    folder, dropping leading folders until one exists, so ``proj/nb.ipynb`` from a kernel in
    ``proj/`` is ``proj/nb.ipynb`` there, not ``proj/proj/nb.ipynb``."""
    given = Path(path).expanduser()
    if given.is_absolute():
        return given
    parts = given.parts
    for start in range(len(parts)):
        candidate = cwd.joinpath(*parts[start:])
        if candidate.exists():
            return candidate
    return cwd / given
