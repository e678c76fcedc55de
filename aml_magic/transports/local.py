"""The local machine as a transport: the same contract as SSH, without a network."""
from __future__ import annotations

import os
import threading
from pathlib import Path

from aml_magic.errors import TargetError
from aml_magic.transports.base import READ_LIMIT, CommandResult, TarProducer
from aml_magic.domain.atomic_file import replace_file
from aml_magic.domain.runfolder import copy_tree_safely, read_nofollow

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable


class LocalTransport:
    """Runs argv lists with ``subprocess`` (never a shell) and moves files with the OS."""

    def run(self, argv: list[str], *, stdin: bytes | None = None, timeout: float | None = None,
            check: bool = True) -> CommandResult:
        # subprocess and tempfile are not imported at module level: the CLI's local submit
        # loads this module and never calls them (~10 % of its start)
        import subprocess
        try:
            # its own session: a notebook's Interrupt (SIGINT to the kernel's whole process
            # group) must not kill a command a background thread waits on; an interrupt of the
            # calling thread still ends it (subprocess.run kills it on the way out)
            proc = subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout,
                                  start_new_session=True)
        except FileNotFoundError as exc:
            raise TargetError(f"local: cannot run {argv[0]!r}: {exc.strerror}") from None
        except subprocess.TimeoutExpired:
            raise TargetError(f"local: {argv[0]!r} did not finish within {timeout} s") from None
        result = CommandResult(proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            tail = proc.stderr.decode("utf-8", "replace").strip()[-500:]
            raise TargetError(f"local: {argv[0]!r} exited with {proc.returncode}: {tail}")
        return result

    def stream(self, argv: list[str], *, on_line: Callable[[str], None],
               timeout: float | None = None) -> int:
        import subprocess   # see run()
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        timer = threading.Timer(timeout, proc.kill) if timeout else None
        if timer:
            timer.start()
        try:
            assert proc.stdout is not None
            for raw in proc.stdout:
                on_line(raw.decode("utf-8", "replace").rstrip("\n"))
            return proc.wait()
        finally:
            if timer:
                timer.cancel()

    def read_file(self, path: str, offset: int = 0, limit: int | None = None) -> bytes:
        return read_nofollow(os.path.expanduser(path), offset,
                             READ_LIMIT if limit is None else limit)

    def write_file(self, path: str, data: bytes, *, mode: int | None = None) -> None:
        target = Path(os.path.expanduser(path))
        target.parent.mkdir(parents=True, exist_ok=True)
        replace_file(target, data, mode=mode)

    def put_tar(self, producer: TarProducer, dest_dir: str) -> None:
        dest = Path(os.path.expanduser(dest_dir))
        dest.mkdir(parents=True, exist_ok=True)
        import tempfile   # see run()
        with tempfile.TemporaryFile() as buf:
            producer(buf)
            buf.seek(0)
            import tarfile
            with tarfile.open(fileobj=buf, mode="r|*") as tar:
                tar.extractall(dest, filter="data")

    def get_tree(self, remote_dir: str, local_dir: Path) -> list[str]:
        """Copy regular files; refuse (and return) symlinks and anything escaping the folder."""
        return copy_tree_safely(Path(os.path.expanduser(remote_dir)), local_dir)

    def exists(self, path: str) -> bool:
        return os.path.lexists(os.path.expanduser(path))

    def makedirs(self, path: str) -> None:
        os.makedirs(os.path.expanduser(path), exist_ok=True)

    def home(self) -> str:
        return str(Path.home())

    def close(self) -> None:
        pass


__all__ = ["LocalTransport"]
