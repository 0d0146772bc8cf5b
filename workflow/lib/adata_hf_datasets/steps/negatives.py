"""The negatives step of one chunk: anchors of this chunk, candidates from the whole split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from ..core.caption_negatives import sample_distinct_caption_negatives
from ..core.negatives import FallbackCounts, NegativePool, chunk_rng, sample_negatives
from ..io.files import read_table, write_table
from .split_index import chunk_pool_rows, read_index, read_negative_pool

__all__ = ["chunk_negatives", "negatives_of_chunk", "read_negatives", "write_negatives"]


def negatives_of_chunk(
    index: pa.Table,
    pool: NegativePool,
    *,
    split: str,
    chunk: str,
    k: int,
    seed: int,
    distinct_captions: bool = False,
) -> tuple[np.ndarray, np.ndarray, FallbackCounts]:
    """``(anchor rows in the chunk, (n, k) pool positions, counts)`` for the anchors of ``chunk``.

    ``distinct_captions`` (the ``pairs`` format): every column is a caption negative whose
    caption is new to its row (-1 where none is left); else odd columns are caption negatives
    and even ones sentence negatives. The random stream comes from (seed, split, chunk) only,
    so the result does not depend on how many jobs run or in which order.
    """
    anchors, rows = chunk_pool_rows(index, chunk)
    sample = sample_distinct_caption_negatives if distinct_captions else sample_negatives
    negatives, counts = sample(pool, anchors, k=k, rng=chunk_rng(seed, split, chunk))
    return rows, negatives, counts


def chunk_negatives(
    index_path: Path,
    pool_path: Path,
    *,
    split: str,
    chunk: str,
    k: int,
    seed: int,
    distinct_captions: bool = False,
) -> tuple[pa.Table, FallbackCounts]:
    """Negatives for the anchors of ``chunk``: a table ``row, negative_1 .. negative_k``.

    ``row`` is the anchor's row in the chunk; ``negative_i`` a pool position in the split index.
    Both files are memory-mapped: the job reads nothing of the split but its chunk's slice of
    the index and the pool it draws from.
    """
    index = read_index(index_path)
    rows, negatives, counts = negatives_of_chunk(
        index,
        read_negative_pool(pool_path),
        split=split,
        chunk=chunk,
        k=k,
        seed=seed,
        distinct_captions=distinct_captions,
    )
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
