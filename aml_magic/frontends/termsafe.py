"""Text from a run on its way to a terminal: colour passes, other control sequences do not.

A run's log is written by the run; a script (or what it prints from elsewhere) can emit escape
sequences that retitle the window, move the cursor over earlier lines, clear the screen, set
hyperlinks, or on some terminals answer back into the input. When ``aml run logs`` or
``aml experiment submit --wait`` writes to a terminal, SGR (colour and style: ``ESC [ ... m``)
is kept and every other escape or control character is made visible text instead."""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import TextIO

# SGR: CSI, parameters made of digits, ';' and ':', then 'm'.
_SGR = r"\x1b\[[0-9;:]*m"
# Any other escape: CSI ... final byte; OSC/DCS/APC/PM/SOS ... up to ST or BEL; two-byte ESC x.
_OTHER = (r"\x1b\[[0-?]*[ -/]*[@-~]?"
          r"|\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?"
          r"|\x1b.?")
# C0 controls other than tab, newline and carriage return; DEL; the C1 controls.
_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f\x80-\x9f]"
_PATTERN = re.compile(f"({_SGR})|({_OTHER})|({_CONTROL})", re.DOTALL)


def _visible(match: re.Match[str]) -> str:
    if match.group(1):
        return match.group(1)
    return "".join(_escape_char(c) for c in match.group(0))


def _escape_char(char: str) -> str:
    if char == "\x1b":
        return "^["
    if ord(char) < 0x20 or 0x7f <= ord(char) <= 0x9f:
        return f"\\x{ord(char):02x}"
    return char


def neutralise(text: str) -> str:
    """``text`` with SGR sequences kept and every other control sequence shown as text
    (``ESC`` as ``^[``, other controls as ``\\xNN``)."""
    if "\x1b" not in text and not re.search(_CONTROL, text):
        return text
    return _PATTERN.sub(_visible, text)


def for_stream(stream: object) -> bool:
    """True when ``stream`` is a terminal (the only place escape sequences act)."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):
        return False


def terminal_writer(stream: TextIO) -> Callable[[str], object]:
    """How a run's text reaches ``stream``: to a terminal with escape sequences other than
    colour neutralised; to a pipe or file, as the run wrote it."""
    if for_stream(stream):
        return lambda text: stream.write(neutralise(text))
    return stream.write
