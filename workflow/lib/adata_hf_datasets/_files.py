"""File helpers: hashing in blocks, atomic writes (a killed job leaves no half file), and the
Arrow tables passed between steps."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["BLOCK_SIZE", "atomic_path", "read_table", "sha256_file", "write_table"]

BLOCK_SIZE = 1 << 20
"""Bytes read, copied or streamed at a time (1 MiB): memory does not grow with the file size."""


def sha256_file(path: Path) -> str:
    """The sha256 (hex) of a file, read in :data:`BLOCK_SIZE` blocks.

    Parameters
    ----------
    path
        The file to hash.

    Returns
    -------
    str
        The hex digest.
    """
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while block := fh.read(BLOCK_SIZE):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path``, renamed to ``path`` when the block succeeds.

    The name is unique per process, so two writers never share it; on failure the temporary
    file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_table(table, path: str | Path) -> None:
    """Write an Arrow table between steps: an uncompressed IPC file of one record batch,
    atomically.

    Uncompressed, so that the reader memory-maps it and touches only the columns and rows it
    uses (Parquet would decode whole columns: at a million cells, a per-chunk job reading the
    split's ids spent longer decoding them than doing its own work).
    """
    import pyarrow as pa

    table = table.combine_chunks()
    with (
        atomic_path(path) as tmp,
        pa.OSFile(str(tmp), "wb") as sink,
        pa.ipc.new_file(sink, table.schema) as writer,
    ):
        writer.write_table(table, max_chunksize=max(table.num_rows, 1))


def read_table(path: str | Path, columns: list[str] | None = None):
    """A table written by :func:`write_table`, memory-mapped (nothing is copied)."""
    import pyarrow as pa

    # Not closed here: the mapping lives as long as the buffers of the table.
    table = pa.ipc.open_file(pa.memory_map(str(path), "r")).read_all()
    return table if columns is None else table.select(columns)
