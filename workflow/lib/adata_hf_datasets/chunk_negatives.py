"""The negatives step of one chunk: anchors of this chunk, candidates from the whole split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from ._files import read_table, write_table
from .negatives import FallbackCounts, NegativePool, chunk_rng, sample_negatives
from .split_index import chunk_mask, read_pool_table


def chunk_negatives(
    index_path: Path, *, split: str, chunk: str, k: int, seed: int
) -> tuple[pa.Table, FallbackCounts]:
    """Negatives for the anchors of ``chunk``: a table ``row, negative_1 .. negative_k``.

    ``row`` is the anchor's row in the chunk; ``negative_i`` a pool position in the split index.
    The random stream comes from (seed, split, chunk) only, so the result does not depend on
    how many jobs run or in which order.
    """
    pool = read_pool_table(index_path, ["chunk", "row", "batch_code", "caption_code"])
    mine = chunk_mask(pool, chunk)
    anchors = np.flatnonzero(mine).astype(np.int64)
    negatives, counts = sample_negatives(
        NegativePool(_numpy(pool, "batch_code"), _numpy(pool, "caption_code")),
        anchors,
        k=k,
        rng=chunk_rng(seed, split, chunk),
    )
    columns = {"row": pa.array(_numpy(pool, "row")[mine].astype(np.int32))}
    for j in range(k):
        columns[f"negative_{j + 1}"] = pa.array(negatives[:, j].astype(np.int64))
    return pa.table(columns), counts


def _numpy(table: pa.Table, name: str) -> np.ndarray:
    return table.column(name).combine_chunks().to_numpy()


def write_negatives(table: pa.Table, path: Path) -> None:
    write_table(table, path)


def read_negatives(path: Path, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(anchor rows, (n, k) pool positions)`` from a negatives file."""
    table = read_table(path)
    rows = table.column("row").to_numpy()
    negatives = np.stack([table.column(f"negative_{j + 1}").to_numpy() for j in range(k)], axis=1)
    return rows, negatives.reshape(len(rows), k)
