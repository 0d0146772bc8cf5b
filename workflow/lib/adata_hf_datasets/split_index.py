"""The split index: every cell of a split (id, caption, batch, chunk, row) and the negatives pool.

Built from the chunks' meta tables only (never X). Negatives are drawn from this index, so they
depend on captions and batches alone; the sentence step reads only the annotation mapping.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

if TYPE_CHECKING:  # pandas is imported where the index is built, not by every job reading it
    import pandas as pd

INDEX_COLUMNS = (
    "sample_idx",
    "caption",
    "batch",
    "chunk",
    "row",
    "pool_pos",
    "batch_code",
    "caption_code",
)


def _codes(values: pd.Series) -> tuple[np.ndarray, int]:
    """Integer codes in sorted order of the values, so they do not depend on chunk order."""
    import pandas as pd

    codes, uniques = pd.factorize(values, sort=True)
    return codes.astype(np.int32), len(uniques)


def index_frame(frames: list[pd.DataFrame], *, needs_captions: bool) -> pd.DataFrame:
    """Concatenate per-chunk meta frames (with ``chunk`` and ``row``) and add the pool columns.

    Cells without a caption are left out of the pool (``pool_pos`` -1) in caption formats.
    Codes follow the sorted values, so they do not depend on chunk order.
    """
    import pandas as pd

    frame = pd.concat(frames, ignore_index=True)
    in_pool = frame["caption"].notna().to_numpy() if needs_captions else np.ones(len(frame), bool)
    pool_pos = np.full(len(frame), -1, dtype=np.int64)
    pool_pos[in_pool] = np.arange(int(in_pool.sum()), dtype=np.int64)
    frame["pool_pos"] = pool_pos
    # A missing batch is a batch of its own: those cells still get negatives.
    frame["batch_code"], _ = _codes(frame["batch"].fillna(""))
    frame["caption_code"], _ = _codes(frame["caption"].fillna(""))
    return frame


def build_split_index(
    chunks: list[tuple[str, Path, Path]], *, needs_captions: bool, needs_similarity: bool
) -> tuple[pa.Table, dict]:
    """Concatenate the meta tables of one split.

    Parameters
    ----------
    chunks
        ``(chunk name, meta parquet, inspection report json)`` in chunk order.
    needs_captions
        Caption formats: cells without a caption are left out of the pool (``pool_pos`` -1).
    needs_similarity
        Compute, for ``semantic_similar``, the most similar other annotation of each annotation.
    """
    frames, parts = [], []
    for name, meta_path, report_path in chunks:
        meta = pq.read_table(meta_path).to_pandas()
        meta["chunk"] = name
        meta["row"] = np.arange(len(meta), dtype=np.int32)
        frames.append(meta)
        if needs_similarity:
            parts.append(json.loads(Path(report_path).read_text())["annotation_sums"])
    frame = index_frame(frames, needs_captions=needs_captions)
    in_pool = frame["pool_pos"].to_numpy() >= 0
    info: dict = {
        "cells": len(frame),
        "pool": int(in_pool.sum()),
        "dropped_missing_caption": int((~in_pool).sum()),
        "batches": int(frame["batch_code"].max()) + 1 if len(frame) else 0,
        "captions": int(frame.loc[in_pool, "caption"].nunique()),
        "chunks": [name for name, _, _ in chunks],
    }
    if needs_similarity:
        info["similar_annotation"] = similar_annotations(parts)
    table = pa.Table.from_pandas(frame[list(INDEX_COLUMNS)], preserve_index=False)
    return table, info


def similar_annotations(parts: list[dict]) -> dict[str, str]:
    """Most similar other annotation of each annotation, from per-chunk embedding sums.

    Centroids are computed over the whole split (sums and counts added over chunks), so every
    chunk of the split agrees.
    """
    from .sentences import most_similar_other

    sums: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    for part in parts:
        for label, vector, count in zip(part["labels"], part["sums"], part["counts"], strict=True):
            vector = np.asarray(vector, dtype=np.float64)
            sums[label] = sums[label] + vector if label in sums else vector
            counts[label] = counts.get(label, 0) + count
    labels = sorted(sums)
    centroids = np.stack([sums[label] / counts[label] for label in labels])
    return most_similar_other(centroids, labels)


def read_pool(index_path: Path, columns: list[str]) -> dict[str, np.ndarray]:
    """Columns of the pool part of a split index, indexed by pool position.

    Pool positions follow index order, so the pool is the index filtered to ``pool_pos >= 0``.
    """
    table = read_pool_table(index_path, columns)
    return {
        name: table.column(name).combine_chunks().to_numpy(zero_copy_only=False) for name in columns
    }


def read_pool_table(index_path: Path, columns: list[str]) -> pa.Table:
    """:func:`read_pool` as an Arrow table: text stays Arrow (no Python object per cell).

    Every negatives and shard job of a split reads the split's index; at a million cells,
    converting its text columns to Python strings costs more than reading them.
    """
    table = pq.read_table(index_path, columns=[*columns, "pool_pos"])
    pool_pos = table.column("pool_pos")
    lowest = pc.min(pool_pos).as_py()
    if lowest is not None and lowest < 0:
        table = table.filter(pc.greater_equal(pool_pos, 0))
    return table.select(columns).combine_chunks()
