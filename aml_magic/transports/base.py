"""The transport contract every target is written against, once."""
from __future__ import annotations

from aml_magic.domain.plain_data import plain_data
from pathlib import Path
from collections.abc import Callable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO, Protocol
else:
    Protocol = object   # the contract is for type checkers; no `typing` import at run time


@plain_data
class CommandResult:
    """What a command run on a target gave back. (A docstring also spares ``dataclass`` the
    ``inspect.signature`` it would otherwise build one from at import.)"""

    exit_code: int
    stdout: bytes
    stderr: bytes

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", "replace")


TarProducer = Callable[["BinaryIO"], None]

#: What one ``read_file`` returns at most when the caller gives no ``limit``: files on a
#: target may be written by a run (``/dev/zero``, a 10 GB log), so no read is unbounded.
READ_LIMIT = 16 << 20


class Transport(Protocol):
    """Run commands and move files on a target. ``argv`` is always a list: a transport that must
    go through a shell quotes every item."""

    def run(self, argv: list[str], *, stdin: bytes | None = None, timeout: float | None = None,
            check: bool = True) -> CommandResult: ...

    def stream(self, argv: list[str], *, on_line: Callable[[str], None],
               timeout: float | None = None) -> int: ...

    def read_file(self, path: str, offset: int = 0, limit: int | None = None) -> bytes:
        """At most ``limit`` (default ``READ_LIMIT``) bytes of the regular file ``path`` from
        ``offset``; b"" when it does not exist; ``UnsafeRunFile`` when it is a symlink or a
        special file (a run can plant either)."""

    def write_file(self, path: str, data: bytes, *, mode: int | None = None) -> None: ...

    def put_tar(self, producer: TarProducer, dest_dir: str) -> None: ...

    def get_tree(self, remote_dir: str, local_dir: Path) -> list[str]: ...

    def exists(self, path: str) -> bool: ...

    def makedirs(self, path: str) -> None: ...

    def home(self) -> str: ...

    def close(self) -> None: ...
