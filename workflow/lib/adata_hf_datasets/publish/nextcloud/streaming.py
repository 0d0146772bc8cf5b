"""Upload bodies streamed from disk, replayable on retry, with progress lines in MB and MB/s."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path

from ...io.files import BLOCK_SIZE
from ...progress import Progress, Unit

__all__ = ["UPLOAD_PROGRESS", "FileSlice"]

UPLOAD_PROGRESS = Unit(
    line="{label}: {done:.1f}/{total:.1f} MB ({percent:.0f}%) at {rate:.1f} MB/s",
    final="{label}: uploaded {total:.1f} MB in {elapsed:.1f} s ({rate:.1f} MB/s)",
    scale=1e6,
    line_at_total=False,
)
"""How an upload's :class:`~adata_hf_datasets.progress.Progress` reads: MB sent and MB/s."""


class FileSlice:
    """A request body: ``length`` bytes of a file from ``offset``, read in 1 MiB blocks.

    Replayable, unlike an open file or a generator: every iteration opens the file again at
    ``offset``, so a retried request sends the same bytes (and ``progress`` goes back to where
    the slice starts). ``requests`` sends it with a ``Content-Length`` (from ``__len__``);
    nothing larger than a block is held in memory.
    """

    def __init__(
        self, path: Path, offset: int, length: int, progress: Progress | None = None
    ) -> None:
        self.path = Path(path)
        self.offset = offset
        self.length = length
        self.progress = progress
        self._iterations: list[Generator[bytes, None, None]] = []

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[bytes]:
        blocks = self._blocks()
        self._iterations.append(blocks)
        return blocks

    def _blocks(self) -> Generator[bytes, None, None]:
        with self.path.open("rb") as fh:
            fh.seek(self.offset)
            remaining = self.length
            while remaining > 0:
                block = fh.read(min(BLOCK_SIZE, remaining))
                if not block:
                    raise OSError(f"{self.path} shrank while it was uploaded")
                remaining -= len(block)
                if self.progress is not None:
                    self.progress.update(self.offset + self.length - remaining)
                yield block

    def close(self) -> None:
        """Close the file of every iteration left unfinished (an attempt that failed mid-body)."""
        for blocks in self._iterations:
            blocks.close()
        self._iterations.clear()
