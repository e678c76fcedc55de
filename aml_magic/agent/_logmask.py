"""Masking secret values in the run's log.txt (stdlib only, Python 3.9+).

With a non-empty ``mask`` in the launch spec, the command's stdout and stderr go to a pipe that
the supervisor pumps through here into log.txt. Imported only then: ``re`` costs a few
milliseconds of start-up that runs without secrets do not pay.
"""
from __future__ import annotations

import os
import select
import time

MASK = b"******"
MIN_MASK_LENGTH = 3  # as aml_magic.domain.secrets.Masker: shorter values are not masked
READ_CHUNK = 65536


def mask_values(values: list[str]) -> list[bytes]:
    """The values worth masking, UTF-8 encoded, without duplicates, longest first."""
    found = {v.encode("utf-8") for v in values if len(v) >= MIN_MASK_LENGTH}
    return sorted(found, key=lambda b: (-len(b), b))


class StreamMasker:
    """Masks every occurrence of the values in data that arrives in arbitrary chunks.

    The result is exactly what masking the whole stream at once would give (leftmost match,
    longest value first at a position, as ``Masker.mask``). A chunk is emitted up to the first
    position whose outcome more data could still change; only that tail is held back:

    - a match, or its absence, at position k depends on the bytes ``k .. k+longest-1`` only,
      so every position before ``len(buf) - (longest-1)`` is decided: a regex pass masks it;
    - in the last ``longest-1`` bytes the positions are walked one by one: position k is
      *undecided* when ``buf[k:]`` is a proper prefix of some value (a longer match may yet
      complete there). The walk stops at the first undecided position and holds the rest.

    So at most ``longest-1`` bytes wait, and only when they could begin a secret: a line the
    script printed never waits for a timer, and a secret split across writes is never shown.
    """

    def __init__(self, values: list[bytes]) -> None:
        import re

        self.values = values
        self.longest = max(len(v) for v in values)
        self.pattern = re.compile(b"|".join(re.escape(v) for v in values))
        self.pending = b""

    def feed(self, data: bytes) -> bytes:
        """Masked bytes that are final; keeps back what could still become a secret."""
        buf = self.pending + data if self.pending else data
        out = []
        pos = 0
        safe = len(buf) - (self.longest - 1)
        for m in self.pattern.finditer(buf):
            if m.start() >= safe:
                break
            out.append(buf[pos:m.start()])
            out.append(MASK)
            pos = m.end()
        if pos < safe:
            out.append(buf[pos:safe])
            pos = safe
        k = pos
        while k < len(buf):
            rest = buf[k:]
            if any(len(v) > len(rest) and v.startswith(rest) for v in self.values):
                break  # undecided: hold from here
            found = self.pattern.match(buf, k)
            if found is not None:
                out.append(buf[pos:k])
                out.append(MASK)
                k = pos = found.end()
            else:
                k += 1
        out.append(buf[pos:k])
        self.pending = buf[k:]
        return b"".join(out)

    def flush(self) -> bytes:
        """At the end of the stream: everything left, masked."""
        rest, self.pending = self.pending, b""
        return self.pattern.sub(MASK, rest)


class MaskedLog:
    """The read end of the pipe the command writes to, pumped masked into log.txt.

    The supervisor adds ``fileno()`` to its ``select`` and calls ``pump`` when it is readable
    (no thread). ``drain`` runs once the command's process group is gone, so that log.txt is
    complete before the terminal status.json."""

    def __init__(self, log_fd: int, values: list[bytes]) -> None:
        self.masker = StreamMasker(values)
        self.log_fd = log_fd
        self.pipe_r, self.pipe_w = os.pipe()  # close-on-exec: spawn dup2s pipe_w onto 1 and 2
        os.set_blocking(self.pipe_r, False)

    def fileno(self) -> int:
        return self.pipe_r

    @property
    def open(self) -> bool:
        return self.pipe_r >= 0

    def started(self) -> None:
        """The command holds the write end now: drop ours, or EOF would never come."""
        os.close(self.pipe_w)
        self.pipe_w = -1

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self.log_fd, view):]
        except OSError:  # full disk: drop the text, but keep reading so the command never blocks
            pass

    def pump(self, max_reads: int = 16) -> None:
        """Move what the command wrote into log.txt, masked; at most max_reads chunks, so
        cancel and heartbeat stay responsive under a flood of output."""
        for _ in range(max_reads):
            try:
                data = os.read(self.pipe_r, READ_CHUNK)
            except BlockingIOError:
                return
            except InterruptedError:  # pragma: no cover - Python < 3.5 only
                continue
            if not data:
                self.close()
                return
            self._write(self.masker.feed(data))

    def drain(self, seconds: float) -> None:
        """Read to the end of the output; a writer that escaped the command's group gets at
        most ``seconds``, then a closed pipe (EPIPE) instead of a log after the end."""
        deadline = time.monotonic() + seconds
        while self.open:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                select.select([self.pipe_r], [], [], left)
            except InterruptedError:  # pragma: no cover - Python < 3.5 only
                pass
            self.pump()
        self.close()

    def close(self) -> None:
        """End of the output: write the held-back tail (masked) and close the log."""
        for fd in (self.pipe_w, self.pipe_r):
            if fd >= 0:
                os.close(fd)
        if self.pipe_r >= 0:
            self._write(self.masker.flush())
        self.pipe_r = self.pipe_w = -1
        if self.log_fd >= 0:
            os.close(self.log_fd)
            self.log_fd = -1
