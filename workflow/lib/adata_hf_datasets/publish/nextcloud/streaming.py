"""Request bodies streamed from disk, and the progress lines logged while they are sent."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

from ...io.files import BLOCK_SIZE


class _Progress:
    """Logs bytes sent and throughput at most every ``interval`` seconds."""

    def __init__(self, log: logging.Logger, label: str, total: int, interval: float) -> None:
        self.log = log
        self.label = label
        self.total = total
        self.interval = interval
        self.start = time.monotonic()
        self.last_log = self.start
        self.position = 0

    def at(self, position: int) -> None:
        self.position = position
        now = time.monotonic()
        if now - self.last_log >= self.interval and position < self.total:
            self.last_log = now
            elapsed = max(now - self.start, 1e-9)
            self.log.info(
                "%s: %.1f/%.1f MB (%.0f%%) at %.1f MB/s",
                self.label,
                position / 1e6,
                self.total / 1e6,
                100.0 * position / max(self.total, 1),
                position / 1e6 / elapsed,
            )

    def done(self) -> float:
        elapsed = max(time.monotonic() - self.start, 1e-9)
        self.log.info(
            "%s: uploaded %.1f MB in %.1f s (%.1f MB/s)",
            self.label,
            self.total / 1e6,
            elapsed,
            self.total / 1e6 / elapsed,
        )
        return elapsed


class _FileSlice:
    """A request body streaming ``length`` bytes of a file from ``offset`` in 1 MiB blocks.

    ``requests`` sends it with a ``Content-Length`` (from ``__len__``); nothing larger than a
    block is held in memory.
    """

    def __init__(self, path: Path, offset: int, length: int, progress: _Progress) -> None:
        self.path = path
        self.offset = offset
        self.length = length
        self.progress = progress
        self._fh = None

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[bytes]:
        self._fh = self.path.open("rb")
        try:
            self._fh.seek(self.offset)
            remaining = self.length
            while remaining > 0:
                block = self._fh.read(min(BLOCK_SIZE, remaining))
                if not block:
                    raise OSError(f"{self.path} shrank while it was uploaded")
                remaining -= len(block)
                self.progress.at(self.offset + self.length - remaining)
                yield block
        finally:
            self.close()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
