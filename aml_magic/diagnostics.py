"""What reaches the terminal when something unexpected happens in the ``aml`` CLI.

Expected failures are ``AmlError`` lines (cli.py). Everything else -- a library's exception, a
log record a library emits with a traceback (paramiko does), an exception in a background
thread -- is reduced to one line naming what happened; ``aml --debug`` (or ``AML_DEBUG=1``)
shows the full traceback and debug logging instead."""
from __future__ import annotations

import logging
import os
import sys
import threading
import traceback
from typing import Any

INTERNAL_EXIT = 3
_HINT = "run the command again as `aml --debug ...` for the traceback"


def debug_requested(flag: bool = False) -> bool:
    return flag or os.environ.get("AML_DEBUG", "").strip().lower() in ("1", "true", "yes")


class _OneLine(logging.Formatter):
    """Log records as ``aml: <logger>: <message>``, never with their traceback."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage().splitlines()[0] if record.getMessage() else ""
        if record.exc_info and record.exc_info[1] is not None:
            message += f" ({type(record.exc_info[1]).__name__}: {record.exc_info[1]})"
        return f"aml: {record.name}: {message}"

    def formatException(self, ei: Any) -> str:
        return ""


def configure_logging(*, debug: bool = False) -> None:
    """Route every library's logging through one handler: with debug, everything with its
    tracebacks; else only errors, one line each. Also keep exceptions raised in background
    threads (a transport's reader thread) to one line."""
    debug = debug_requested(debug)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_aml_cli", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._aml_cli = True  # type: ignore[attr-defined]
    if debug:
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        handler.setLevel(logging.DEBUG)
        root.setLevel(logging.DEBUG)
    else:
        handler.setFormatter(_OneLine())
        handler.setLevel(logging.ERROR)
        # Libraries log their tracebacks a line per record (paramiko does): only ours show.
        handler.addFilter(lambda record: record.name.split(".")[0] == "aml_magic")
    root.addHandler(handler)
    if not debug:
        threading.excepthook = _thread_exception_one_line


def _thread_exception_one_line(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "a thread"
    print(f"aml: internal error in {name}: {args.exc_type.__name__}: {args.exc_value} "
          f"({_HINT})", file=sys.stderr)


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "(no message)"


def report_unexpected(exc: BaseException, *, debug: bool = False) -> int:
    """Print ``exc`` for the terminal and return the exit code: an ``OSError`` is the system's
    answer (disk full, permission) and exits 2 like any expected error; anything else is an
    internal error (exit 3). With debug, the traceback is printed too."""
    if debug_requested(debug):
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        text = _one_line(exc.strerror or str(exc))
        print(f"aml: error: {text}{where}" + ("" if debug_requested(debug) else f" ({_HINT})"),
              file=sys.stderr)
        return 2
    print(f"aml: internal error: {type(exc).__name__}: {_one_line(str(exc))}"
          + ("" if debug_requested(debug) else f" ({_HINT})"), file=sys.stderr)
    return INTERNAL_EXIT
