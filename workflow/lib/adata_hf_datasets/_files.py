"""File helpers: hashing in blocks, and atomic writes (a killed job leaves no half file)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["BLOCK_SIZE", "atomic_path", "sha256_file"]

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
