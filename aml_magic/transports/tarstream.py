"""Build tar streams in memory-light ways, for ``Transport.put_tar``."""
from __future__ import annotations

import io
import tarfile
from typing import BinaryIO

from aml_magic.transports.base import TarProducer


def tar_of_files(files: dict[str, bytes], *, mode: int = 0o644) -> TarProducer:
    """A producer writing ``files`` (relative path -> content) as one uncompressed tar."""

    def produce(out: BinaryIO) -> None:
        with tarfile.open(fileobj=out, mode="w|") as tar:
            for name, data in sorted(files.items()):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mode = mode
                tar.addfile(info, io.BytesIO(data))

    return produce
