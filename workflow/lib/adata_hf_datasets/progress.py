"""Progress lines for long jobs, so ``tail -f`` of a job log shows the work moving.

One logger serves every kind of work: cells of a step (the default, :data:`CELLS`) and bytes
of an upload (the Nextcloud client words them in MB and MB/s with its own :class:`Unit`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

__all__ = ["CELLS", "INTERVAL_SECONDS", "Progress", "Unit"]

INTERVAL_SECONDS = 5.0
"""Default time between two progress lines of a job."""


@dataclass(frozen=True)
class Unit:
    """What a :class:`Progress` counts, and how its lines read.

    Attributes
    ----------
    line
        The periodic line, a ``str.format`` template over ``label``, ``done`` and ``total``
        (counts divided by ``scale``), ``percent``, ``rate`` (``done`` per second) and
        ``elapsed`` (seconds).
    final
        The last line (:meth:`Progress.finish`), same fields.
    scale
        Counts per shown unit: ``1e6`` shows bytes as MB and MB/s.
    line_at_total
        Whether a periodic line may report the whole total. False where the final line
        follows at once (after the last byte of an upload), so the log does not say it twice.
    """

    line: str
    final: str
    scale: float = 1.0
    line_at_total: bool = True


_CELL_LINE = (
    "{label}: {done:.0f}/{total:.0f} cells ({percent:.0f}%), {rate:.0f} cells/s, {elapsed:.1f} s"
)
CELLS = Unit(line=_CELL_LINE, final=_CELL_LINE)
"""Cells done / total and cells/s: the lines of the per-chunk steps."""


class Progress:
    """Log work done and its rate at most every ``interval`` seconds, and at the end.

    Parameters
    ----------
    log
        Logger of the job.
    total
        How much work the job will do (cells, or bytes with another ``unit``).
    label
        What is being done, e.g. ``"cell sentences train/chunk_0"``.
    interval
        Seconds between two periodic lines; :data:`INTERVAL_SECONDS` when None.
    unit
        What is counted and how the lines read; cells by default.
    """

    def __init__(
        self,
        log: logging.Logger,
        total: int,
        label: str,
        *,
        interval: float | None = None,
        unit: Unit = CELLS,
    ) -> None:
        self.log = log
        self.total = total
        self.label = label
        self.interval = INTERVAL_SECONDS if interval is None else interval
        self.unit = unit
        self.done = 0
        self.start = time.perf_counter()
        self._last = self.start

    def advance(self, count: int) -> None:
        """Count ``count`` more units of work done."""
        self.update(self.done + count)

    def update(self, done: int) -> None:
        """Set the work done so far; it may go back (a retried upload sends its body again)."""
        self.done = done
        now = time.perf_counter()
        if now - self._last >= self.interval and (self.unit.line_at_total or done < self.total):
            self._last = now
            self._emit(now, self.unit.line)

    def finish(self) -> float:
        """Log the final line and return the rate (units of work per second)."""
        return self._emit(time.perf_counter(), self.unit.final)

    def _emit(self, now: float, template: str) -> float:
        elapsed = max(now - self.start, 1e-9)
        rate = self.done / elapsed
        scale = self.unit.scale
        self.log.info(
            template.format(
                label=self.label,
                done=self.done / scale,
                total=self.total / scale,
                percent=100.0 * self.done / max(self.total, 1),
                rate=rate / scale,
                elapsed=elapsed,
            )
        )
        return rate
