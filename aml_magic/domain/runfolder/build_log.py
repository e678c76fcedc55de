"""The log of an environment build a submit triggered (a docker image, a remote venv or conda
environment prepared on first use), kept with the run that triggered it as ``build.log`` in its
run folder.

Lines are appended as the build prints them, not at its end: the file is how a front end that
did not start the build follows it (the run widget while the run is Preparing; the submit ran in
a background thread), and what ``aml run logs ID --environment`` and ``aml run show`` point at
afterwards. A build that fails half way leaves the lines it printed.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from aml_magic.domain.nofollow import read_tail_nofollow

TYPE_CHECKING = False
if TYPE_CHECKING:   # typing stays off the CLI's submit path (the local target imports this)
    from typing import IO

BUILD_LOG = "build.log"
#: How much of the end of build.log a snapshot reads (a build prints a few thousand lines).
TAIL_BYTES = 32 * 1024

ProgressCallback = Callable[[str], None]


class BuildLog:
    """A progress callback that appends each line to the run's ``build.log`` (created on the
    first line: a reused environment leaves no file) and hands it on to ``forward``."""

    def __init__(self, run_folder: Path, forward: ProgressCallback | None = None) -> None:
        self.path = Path(run_folder) / BUILD_LOG
        self.forward = forward
        self.lines = 0
        self._file: IO[str] | None = None

    def __call__(self, line: str) -> None:
        try:
            if self._file is None:
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW
                             | os.O_CLOEXEC, 0o600)
                self._file = open(fd, "a", encoding="utf-8", errors="replace")
            self._file.write(line.rstrip("\n") + "\n")
            self._file.flush()           # readers follow the file while the build runs
        except OSError:
            pass                         # a full disk loses the copy, never the build
        self.lines += 1
        if self.forward is not None:
            self.forward(line)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> BuildLog:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def build_log_tail(run_folder: Path, lines: int = 20) -> str | None:
    """The last ``lines`` lines of the run's build log; None when the run triggered no build.
    Never through a symlink (the folder is shared with what the run writes)."""
    data = read_tail_nofollow(Path(run_folder) / BUILD_LOG, TAIL_BYTES)
    if data is None:
        return None
    text = data.decode("utf-8", "replace").rstrip("\n")
    return "\n".join(text.splitlines()[-lines:])
