"""The split index: every cell of a split (id, caption, batch, chunk, row) and the negatives pool.

Built from the chunks' meta tables only (never X). Negatives are drawn from this index, so they
depend on captions and batches alone; the sentence step reads only the annotation mapping.

The index is an uncompressed Arrow IPC file, memory-mapped by the jobs that read it: a
negatives job maps its integer columns without decoding anything, and a shard job reads the
ids and captions of its negatives' rows only. Neither reads the split's text, which would make
every per-chunk job grow with the split (at a million cells, decoding it cost a shard job more
than its own work). Text columns other than the ids are dictionary-encoded.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ._files import read_table, write_table

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


def _text(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    return column.cast(pa.string()) if pa.types.is_dictionary(column.type) else column


def _encode(values: pa.Array) -> tuple[pa.DictionaryArray, np.ndarray]:
    """``values`` dictionary-encoded (missing values stay null), and integer codes in sorted
    order of the values (missing counts as ""), so that codes do not depend on chunk order.
    Strings sort by their UTF-8 bytes, which is code point order. One hash pass for both."""
    encoded = pc.dictionary_encode(pc.fill_null(values, ""))
    order = pc.array_sort_indices(encoded.dictionary).to_numpy()
    rank = np.empty(len(order), dtype=np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    indices = encoded.indices.to_numpy()
    codes = rank[indices]
    stored = pa.DictionaryArray.from_arrays(
        pa.array(indices, mask=values.is_null().to_numpy(zero_copy_only=False)),
        encoded.dictionary,
    )
    return stored, codes


def index_table(metas: list[tuple[str, pa.Table]], *, needs_captions: bool) -> pa.Table:
    """Concatenate per-chunk meta tables (``sample_idx``, ``caption``, ``batch``) in chunk order
    and add ``chunk``, ``row`` and the pool columns.

    Cells without a caption are left out of the pool (``pool_pos`` -1) in caption formats; a
    missing batch is a batch of its own (those cells still get negatives).
    """
    names = [name for name, _ in metas]
    sizes = np.array([meta.num_rows for _, meta in metas], dtype=np.int64)

    def column(name: str) -> pa.Array:
        parts = [_text(meta.column(name)) for _, meta in metas]
        return pa.concat_arrays(parts) if parts else pa.array([], pa.string())

    ids, captions, batches = column("sample_idx"), column("caption"), column("batch")
    n = len(ids)
    if needs_captions:
        in_pool = captions.is_valid().to_numpy(zero_copy_only=False)
    else:
        in_pool = np.ones(n, dtype=bool)
    pool_pos = np.full(n, -1, dtype=np.int64)
    pool_pos[in_pool] = np.arange(int(in_pool.sum()), dtype=np.int64)
    batch_column, batch_code = _encode(batches)
    caption_column, caption_code = _encode(captions)
    chunk = pa.DictionaryArray.from_arrays(
        pa.array(np.repeat(np.arange(len(names), dtype=np.int32), sizes)),
        pa.array(names, pa.string()),
    )
    row = (
        np.concatenate([np.arange(size, dtype=np.int32) for size in sizes])
        if len(sizes)
        else np.empty(0, dtype=np.int32)
    )
    return pa.table(
        {
            "sample_idx": ids,
            "caption": caption_column,
            "batch": batch_column,
            "chunk": chunk,
            "row": pa.array(row),
            "pool_pos": pa.array(pool_pos),
            "batch_code": pa.array(batch_code),
            "caption_code": pa.array(caption_code),
        }
    )


def build_split_index(
    chunks: list[tuple[str, Path, Path]], *, needs_captions: bool, needs_similarity: bool
) -> tuple[pa.Table, dict]:
    """Concatenate the meta tables of one split.

    Parameters
    ----------
    chunks
        ``(chunk name, meta table file, inspection report json)`` in chunk order.
    needs_captions
        Caption formats: cells without a caption are left out of the pool (``pool_pos`` -1).
    needs_similarity
        Compute, for ``semantic_similar``, the most similar other annotation of each annotation.
    """
    metas, parts = [], []
    for name, meta_path, report_path in chunks:
        metas.append((name, read_table(meta_path, ["sample_idx", "caption", "batch"])))
        if needs_similarity:
            parts.append(json.loads(Path(report_path).read_text())["annotation_sums"])
    table = index_table(metas, needs_captions=needs_captions)
    in_pool = table.column("pool_pos").to_numpy() >= 0
    n = table.num_rows
    info: dict = {
        "cells": n,
        "pool": int(in_pool.sum()),
        "dropped_missing_caption": int(n - in_pool.sum()),
        "batches": int(pc.max(table.column("batch_code")).as_py()) + 1 if n else 0,
        "captions": _distinct(table.column("caption_code").to_numpy()[in_pool]),
        "chunks": [name for name, _, _ in chunks],
    }
    if needs_similarity:
        info["similar_annotation"] = similar_annotations(parts)
    return table, info


def _distinct(codes: np.ndarray) -> int:
    return int(np.count_nonzero(np.bincount(codes))) if codes.size else 0


def write_index(table: pa.Table, path: Path) -> None:
    """Write the index (memory-mappable, see :func:`read_index`)."""
    write_table(table, path)


def read_index(path: Path) -> pa.Table:
    """The whole index, memory-mapped: columns are read from disk only where they are used."""
    return read_table(path)


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


def pool_index_rows(table: pa.Table) -> np.ndarray | None:
    """Index row of every pool position, or None when they coincide (no cell left out)."""
    pool_pos = table.column("pool_pos").to_numpy()
    if not pool_pos.size or pool_pos.min() >= 0:
        return None
    return np.flatnonzero(pool_pos >= 0)


def read_pool_table(index_path: Path, columns: list[str]) -> pa.Table:
    """Columns of the pool part of a split index, indexed by pool position.

    Pool positions follow index order, so the pool is the index without the rows left out;
    when none is left out the columns are the memory-mapped file itself (no copy).
    """
    table = read_index(index_path)
    rows = pool_index_rows(table)
    table = table.select(columns)
    return table if rows is None else table.take(pa.array(rows))


def chunk_mask(table: pa.Table, chunk: str) -> np.ndarray:
    """True on the rows of ``table`` (an index or its pool) that belong to ``chunk``."""
    column = table.column("chunk").combine_chunks()
    names = column.dictionary.to_pylist()
    codes = column.indices.to_numpy()
    if chunk not in names:
        return np.zeros(len(codes), dtype=bool)
    return codes == names.index(chunk)


def chunk_names(table: pa.Table) -> np.ndarray:
    """The ``chunk`` column as an object array of names."""
    column = table.column("chunk").combine_chunks()
    names = np.array(column.dictionary.to_pylist(), dtype=object)
    return names[column.indices.to_numpy()]
