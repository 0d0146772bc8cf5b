"""File helpers shared by the publishing modules (:mod:`.nextcloud`, :mod:`.hub`)."""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["BLOCK_SIZE", "sha256_file"]

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
