"""Deterministic zip archives of chunks: the same chunk content gives the same sha256."""

from __future__ import annotations

import os
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

from ...io.files import BLOCK_SIZE, atomic_path, sha256_file

__all__ = ["zip_chunk"]

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def zip_chunk(chunk_path: Path, zip_path: Path, *, compression: str = "stored") -> tuple[int, str]:
    """Zip a chunk deterministically.

    Parameters
    ----------
    chunk_path
        A ``.zarr`` directory (its contents go to the archive root, so
        ``extractall("x.zarr")`` recreates the store) or a file such as ``.h5ad`` (stored as
        the single member under its own name).
    zip_path
        Where to write the archive (written under a temporary name, then renamed).
    compression
        ``"stored"`` (default: zarr chunks and h5ad datasets are usually compressed already,
        and stored archives are byte-identical everywhere) or ``"deflated"``.

    Returns
    -------
    tuple of (int, str)
        Size of the zip in bytes and its sha256 (hex). Entries are sorted and carry a fixed
        timestamp and mode, so the same chunk content gives the same digest.

    Notes
    -----
    Files are copied in 1 MiB blocks; memory does not grow with the chunk size.
    """
    chunk_path = Path(chunk_path)
    zip_path = Path(zip_path)
    if compression == "stored":
        method = zipfile.ZIP_STORED
    elif compression == "deflated":
        method = zipfile.ZIP_DEFLATED
    else:
        raise ValueError(f"compression must be 'stored' or 'deflated', got {compression!r}")
    if chunk_path.is_dir():
        entries = list(_walk_sorted(chunk_path))
    elif chunk_path.is_file():
        entries = [(chunk_path.name, chunk_path)]
    else:
        raise FileNotFoundError(f"chunk not found: {chunk_path}")

    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(zip_path) as tmp, zipfile.ZipFile(tmp, "w", allowZip64=True) as archive:
        for arcname, path in entries:
            info = zipfile.ZipInfo(arcname, date_time=_ZIP_DATE)
            info.create_system = 3  # unix, whatever the platform
            if path is None:  # directory entry
                info.external_attr = (0o40755 << 16) | 0x10
                info.compress_type = zipfile.ZIP_STORED
                archive.writestr(info, b"")
                continue
            info.external_attr = 0o100644 << 16
            info.compress_type = method
            info.file_size = path.stat().st_size  # lets zipfile pick ZIP64 for big members
            with path.open("rb") as src, archive.open(info, "w") as dst:
                shutil.copyfileobj(src, dst, BLOCK_SIZE)
    size = zip_path.stat().st_size
    digest = sha256_file(zip_path)
    return size, digest


def _walk_sorted(root: Path) -> Iterator[tuple[str, Path | None]]:
    """(archive name, file path or None for a directory), sorted, relative to ``root``."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        if prefix:
            yield prefix, None
        for name in sorted(filenames):
            yield prefix + name, Path(dirpath, name)
