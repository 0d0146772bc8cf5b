"""Progress lines for long jobs, so ``tail -f`` of a job log shows the work moving."""

from __future__ import annotations

import logging
import time

INTERVAL_SECONDS = 5.0
"""Default time between two progress lines of a job."""


class Progress:
    """Log ``cells done / total, cells/s`` at most every ``interval`` seconds, and at the end.

    Parameters
    ----------
    log
        Logger of the job.
    total
        Number of cells the job will process.
    label
        What is being done, e.g. ``"cell sentences train/chunk_0"``.
    """

    def __init__(
        self, log: logging.Logger, total: int, label: str, *, interval: float | None = None
    ) -> None:
        self.log = log
        self.total = total
        self.label = label
        self.interval = INTERVAL_SECONDS if interval is None else interval
        self.done = 0
        self.start = time.perf_counter()
        self._last = self.start

    def advance(self, cells: int) -> None:
        self.done += cells
        now = time.perf_counter()
        if now - self._last >= self.interval:
            self._last = now
            self._emit(now)

    def finish(self) -> float:
        """Log the final line and return the cells per second."""
        return self._emit(time.perf_counter())

    def _emit(self, now: float) -> float:
        elapsed = max(now - self.start, 1e-9)
        rate = self.done / elapsed
        self.log.info(
            "%s: %d/%d cells (%.0f%%), %.0f cells/s, %.1f s",
            self.label,
            self.done,
            self.total,
            100.0 * self.done / max(self.total, 1),
            rate,
            elapsed,
        )
        return rate
