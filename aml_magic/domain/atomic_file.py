"""Replacing a file whole: written under a temporary name beside it, then renamed over it, so
a reader (or a crash) sees the old content or the new, never half of either."""
from __future__ import annotations

import os
from pathlib import Path


def replace_file(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Put ``data`` at ``path`` atomically; ``mode`` sets the new file's permission bits
    (default 0600). The temporary file is created exclusively (as ``tempfile.mkstemp`` would;
    ``tempfile`` itself is not imported: every command that keeps a cache writes here)."""
    tmp = str(path.parent / f".{path.name}.{os.urandom(6).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
