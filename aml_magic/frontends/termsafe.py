"""Text from a run on its way to a terminal: nothing a run wrote acts on the terminal.

A run writes its log, and (through its run folder, its driver log, a forged record) text that
reaches listings: metric names, output names, reasons, Spark facts. Escape sequences there can
retitle the window, move the cursor over earlier lines, clear the screen, set hyperlinks, or on
some terminals answer back into the input. Two rules, one place each:

- every line the ``aml`` command prints (listings, ``show``, messages, errors) goes through
  ``TerminalSafe`` (installed over ``sys.stdout``/``sys.stderr`` by ``cli/main.py`` for the
  whole command), which makes every escape and control character other than tab and newline
  visible text (``visible``), colour included, whatever the output is (a pipe to ``grep``
  still ends on a terminal);
- a run's log streamed by ``aml run logs`` / ``aml experiment submit --wait`` is the one
  exception (``terminal_writer``): to a terminal SGR (colour and style: ``ESC [ ... m``) is
  kept and every other escape or control character is made visible (``neutralise``); to a
  pipe or file it is written exactly as the run wrote it (``aml run logs > copy.txt``)."""
from __future__ import annotations

import re
import sys
from collections.abc import Callable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TextIO

# SGR: CSI, parameters made of digits, ';' and ':', then 'm'.
_SGR = r"\x1b\[[0-9;:]*m"
# Any other escape: CSI ... final byte; OSC/DCS/APC/PM/SOS ... up to ST or BEL; two-byte ESC x.
_OTHER = (r"\x1b\[[0-?]*[ -/]*[@-~]?"
          r"|\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?"
          r"|\x1b.?")
# C0 controls other than tab, newline and carriage return; DEL; the C1 controls.
_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f\x80-\x9f]"
# Patterns as text: ``re`` compiles each once, on first use (ASCII listings never need them,
# and compiling them at import cost ~1 % of every `aml` command).
_PATTERN = f"({_SGR})|({_OTHER})|({_CONTROL})"


# For listings: also carriage return, and the bidirectional overrides and isolates that reorder
# what is shown ("Trojan Source").
_STRICT_CONTROL = r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
_STRICT = f"{_OTHER}|{_STRICT_CONTROL}"
_PLAIN_ASCII = bytes([9, 10, *range(0x20, 0x7f)])


def _visible(match: re.Match[str]) -> str:
    if match.group(1):
        return match.group(1)
    return "".join(_escape_char(c) for c in match.group(0))


def _escape_char(char: str) -> str:
    if char == "\x1b":
        return "^["
    if ord(char) < 0x20 or 0x7f <= ord(char) <= 0x9f:
        return f"\\x{ord(char):02x}"
    if 0x202a <= ord(char) <= 0x2069:
        return f"\\u{ord(char):04x}"
    return char


def _shown(match: re.Match[str]) -> str:
    return "".join(_escape_char(c) for c in match.group(0))


def visible(text: str) -> str:
    """``text`` with every escape sequence (colour too) and every control character other
    than tab and newline shown as text (``ESC`` as ``^[``, others as ``\\xNN``/``\\uNNNN``):
    what the ``aml`` command prints besides a streamed log."""
    if text.isascii():                # the usual listing: one pass in C over its bytes
        if not text.encode("ascii").translate(None, _PLAIN_ASCII):
            return text
    elif not re.search(_STRICT_CONTROL, text):
        return text
    return re.sub(_STRICT, _shown, text, flags=re.DOTALL)


def neutralise(text: str) -> str:
    """``text`` with SGR sequences kept and every other control sequence shown as text
    (``ESC`` as ``^[``, other controls as ``\\xNN``)."""
    if "\x1b" not in text and not re.search(_CONTROL, text):
        return text
    return re.sub(_PATTERN, _visible, text, flags=re.DOTALL)


def for_stream(stream: object) -> bool:
    """True when ``stream`` is a terminal (the only place escape sequences act)."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):
        return False


class TerminalSafe:
    """A text stream that writes ``visible(text)`` to the stream it wraps: the ``aml``
    command's ``sys.stdout`` and ``sys.stderr`` while it runs (``guard``)."""

    def __init__(self, inner: TextIO) -> None:
        self.inner = inner

    def write(self, text: str) -> int:
        self.inner.write(visible(text))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self.inner.flush()

    def isatty(self) -> bool:
        return for_stream(self.inner)

    def __getattr__(self, name: str) -> Any:     # encoding, fileno, errors, ...
        if name == "buffer":                      # bytes would pass unchecked
            raise AttributeError("TerminalSafe has no binary buffer")
        return getattr(self.inner, name)


class guard:
    """``with guard():`` every text written to ``sys.stdout``/``sys.stderr`` inside goes
    through ``TerminalSafe``; the streams are put back after."""

    def __enter__(self) -> guard:
        self._saved = sys.stdout, sys.stderr
        sys.stdout = TerminalSafe(sys.stdout)
        sys.stderr = TerminalSafe(sys.stderr)
        return self

    def __exit__(self, *_exc: object) -> None:
        sys.stdout, sys.stderr = self._saved


def terminal_writer(stream: TextIO) -> Callable[[str], object]:
    """How a run's log reaches ``stream``: to a terminal with escape sequences other than
    colour neutralised; to a pipe or file, as the run wrote it (the one path around
    ``TerminalSafe``)."""
    if isinstance(stream, TerminalSafe):
        stream = stream.inner
    if for_stream(stream):
        return lambda text: stream.write(neutralise(text))
    return stream.write
