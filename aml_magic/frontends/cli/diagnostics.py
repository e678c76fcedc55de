"""What reaches the terminal when something unexpected happens in the ``aml`` CLI.

Expected failures are ``AmlError`` lines (cli.py). Everything else -- a library's exception, a
log record a library emits with its traceback, an exception in a background thread -- is
reduced to one line naming what happened; ``aml --debug`` (or ``AML_DEBUG=1``) shows the full
traceback and debug logging instead.

``logging`` is not imported for this: a command that loads no library that logs (most of
them) must not pay for it. A finder on ``sys.meta_path`` waits for the first import of
``logging`` (by paramiko, docker, ...) and configures it right after that import."""
from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from types import ModuleType

TYPE_CHECKING = False
if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec
    from typing import Any

INTERNAL_EXIT = 3
_HINT = "run the command again as `aml --debug ...` for the traceback"


def debug_requested(flag: bool = False) -> bool:
    return flag or os.environ.get("AML_DEBUG", "").strip().lower() in ("1", "true", "yes")


class _ConfigureLoggingOnImport:
    """Lets ``logging`` import as usual, then configures it (see the module docstring)."""

    def __init__(self, debug: bool) -> None:
        self.debug = debug

    def find_spec(self, name: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if name != "logging":
            return None
        sys.meta_path.remove(self)
        from importlib.machinery import PathFinder  # when a library loads logging: rare
        spec = PathFinder.find_spec(name, path)
        loader: Any = spec.loader if spec is not None else None
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        run_module = loader.exec_module
        debug = self.debug

        def exec_module(module: ModuleType) -> None:
            run_module(module)
            _configure(debug)
        loader.exec_module = exec_module
        return spec


def configure_logging(*, debug: bool = False) -> None:
    """Route library logging through one handler once a library imports ``logging``: with
    debug, everything with tracebacks; otherwise only aml_magic's own errors, one line each.
    Exceptions in background threads are one line too, unless debug."""
    debug = debug_requested(debug)
    if "logging" in sys.modules:
        _configure(debug)
    elif not any(isinstance(f, _ConfigureLoggingOnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _ConfigureLoggingOnImport(debug))


def _configure(debug: bool) -> None:
    import logging
    import threading
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_aml_cli", False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)
    handler._aml_cli = True  # type: ignore[attr-defined]
    if debug:
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        root.setLevel(logging.DEBUG)
    else:
        handler.setFormatter(_one_line_formatter(logging))
        handler.setLevel(logging.ERROR)
        # Libraries log their tracebacks a line per record (paramiko does): only ours show.
        handler.addFilter(lambda record: record.name.split(".")[0] == "aml_magic")
        threading.excepthook = _thread_exception_one_line
    root.addHandler(handler)


def _one_line_formatter(logging: Any) -> Any:
    class OneLine(logging.Formatter):
        """Records as ``aml: <logger>: <message>``, never with their traceback."""

        def format(self, record: Any) -> str:
            text = _one_line(record.getMessage())
            if record.exc_info and record.exc_info[1] is not None:
                text += f" ({type(record.exc_info[1]).__name__}: {record.exc_info[1]})"
            return f"aml: {record.name}: {text}"
    return OneLine()


def _thread_exception_one_line(args: Any) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "a thread"
    print(f"aml: internal error in {name}: {args.exc_type.__name__}: "
          f"{_one_line(str(args.exc_value))} ({_HINT})", file=sys.stderr)


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "(no message)"


def report_unexpected(exc: BaseException, *, debug: bool = False) -> int:
    """Print ``exc`` for the terminal and return the exit code: an ``OSError`` is the system's
    answer (disk full, permission) and exits 2 like any expected error; anything else is an
    internal error (exit 3). With debug, the traceback is printed too."""
    debug = debug_requested(debug)
    if debug:
        import traceback
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    hint = "" if debug else f" ({_HINT})"
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        print(f"aml: error: {_one_line(exc.strerror or str(exc))}{where}{hint}", file=sys.stderr)
        return 2
    print(f"aml: internal error: {type(exc).__name__}: {_one_line(str(exc))}{hint}",
          file=sys.stderr)
    return INTERNAL_EXIT
