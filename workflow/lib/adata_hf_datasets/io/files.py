"""Files between steps: atomic writes (a killed job leaves no half file), hashing in blocks,
Arrow tables (memory-mapped IPC files), Arrow streams hashed while written, and JSON."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "BLOCK_SIZE",
    "Closing",
    "atomic_path",
    "build_beside",
    "read_json",
    "read_table",
    "sha256_file",
    "write_ipc_stream",
    "write_json",
    "write_npz",
    "write_table",
    "write_text",
]

BLOCK_SIZE = 1 << 20
"""Bytes read, copied or streamed at a time (1 MiB): memory does not grow with the file size."""


class Closing:
    """Mixin of objects that hold a file or a connection: ``with obj:`` closes it at the end."""

    def close(self) -> None:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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


@contextmanager
def build_beside(target: str | Path) -> Iterator[Path]:
    """A new, empty folder beside ``target``; when the block succeeds it replaces ``target``.

    Until then ``target`` is not touched: a failed or interrupted build leaves the previous
    folder byte for byte as it was, and only a complete folder is ever put in its place. The
    swap is atomic on Linux (``renameat2`` with ``RENAME_EXCHANGE``: a reader sees the old
    folder or the new one, never none); elsewhere it is two renames in a row.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{target.name}.building-*"):  # of an interrupted build
        shutil.rmtree(stale, ignore_errors=True)
    staging = target.with_name(f".{target.name}.building-{os.getpid()}")
    staging.mkdir()
    try:
        yield staging
        _swap_in(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _swap_in(new: Path, target: Path) -> None:
    """Put the folder ``new`` at ``target``; the previous ``target`` ends up at ``new``."""
    if not target.exists():
        os.rename(new, target)
        return
    if _exchange(new, target):
        return
    previous = target.with_name(f".{target.name}.previous-{os.getpid()}")
    os.rename(target, previous)
    os.rename(new, target)
    os.rename(previous, new)  # removed by the caller with what is left of the staging


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2(RENAME_EXCHANGE)``); False where the system
    or the file system cannot."""
    import ctypes

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), rename_exchange)
    return result == 0


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


def write_json(path: str | Path, payload: Any) -> None:
    """Write JSON atomically, keys sorted (the same payload always gives the same bytes)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str))


def write_npz(path: str | Path, arrays: dict) -> None:
    """Write arrays as an ``.npz`` (``numpy.load`` reads it) atomically and byte-reproducibly:
    ``numpy.savez`` stamps each member with the time, so the same arrays would give other
    bytes on every run."""
    import zipfile

    import numpy as np

    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asarray(array), allow_pickle=False)


def write_text(path: str | Path, text: str) -> None:
    """Write text atomically (a reader never sees half of it)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


_HASH_SLICE = 1 << 20


class _HashingSink:
    """A binary file that hashes what is written to it (no second read of the file)."""

    def __init__(self, path: Path) -> None:
        self._file = open(path, "wb")  # noqa: SIM115 - closed by close()
        self.sha = hashlib.sha256()
        self.closed = False

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        # Hash and write slice by slice: each slice is still in cache when it is copied out.
        for start in range(0, len(view), _HASH_SLICE):
            piece = view[start : start + _HASH_SLICE]
            self.sha.update(piece)
            self._file.write(piece)
        return len(view)

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        if not self.closed:
            self._file.close()
            self.closed = True


def write_ipc_stream(path: str | Path, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> str:
    """Write record batches as an Arrow IPC stream (the format ``datasets`` writes), atomically;
    return the file's sha256, computed while writing."""
    import pyarrow as pa

    with atomic_path(path) as tmp:
        sink = _HashingSink(tmp)
        try:
            with (
                pa.PythonFile(sink, mode="w") as stream,
                pa.ipc.new_stream(stream, schema) as writer,
            ):
                for batch in batches:
                    writer.write_batch(batch)
        finally:
            sink.close()
    return sink.sha.hexdigest()
