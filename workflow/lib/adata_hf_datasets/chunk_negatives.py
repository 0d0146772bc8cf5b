"""The negatives step of one chunk: anchors of this chunk, candidates from the whole split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from ._files import read_table, write_table
from .negatives import FallbackCounts, chunk_rng, sample_negatives
from .split_index import chunk_pool_rows, negative_pool, read_index, read_negative_pool


def chunk_negatives(
    index_path: Path,
    *,
    split: str,
    chunk: str,
    k: int,
    seed: int,
    pool_path: Path | None = None,
) -> tuple[pa.Table, FallbackCounts]:
    """Negatives for the anchors of ``chunk``: a table ``row, negative_1 .. negative_k``.

    ``row`` is the anchor's row in the chunk; ``negative_i`` a pool position in the split index.
    The random stream comes from (seed, split, chunk) only, so the result does not depend on
    how many jobs run or in which order. ``pool_path``: the split's stored negative pool
    (mapped: the job then reads nothing of the split but its chunk's slice of the index);
    without it the pool is built from the index.
    """
    index = read_index(index_path)
    anchors, rows = chunk_pool_rows(index, chunk)
    pool = read_negative_pool(pool_path) if pool_path is not None else negative_pool(index)
    negatives, counts = sample_negatives(pool, anchors, k=k, rng=chunk_rng(seed, split, chunk))
    columns = {"row": pa.array(rows.astype(np.int32))}
    for j in range(k):
        columns[f"negative_{j + 1}"] = pa.array(negatives[:, j].astype(np.int64))
    return pa.table(columns), counts


def write_negatives(table: pa.Table, path: Path) -> None:
    write_table(table, path)


def read_negatives(path: Path, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(anchor rows, (n, k) pool positions)`` from a negatives file."""
    table = read_table(path)
    rows = table.column("row").to_numpy()
    negatives = np.stack([table.column(f"negative_{j + 1}").to_numpy() for j in range(k)], axis=1)
    return rows, negatives.reshape(len(rows), k)
