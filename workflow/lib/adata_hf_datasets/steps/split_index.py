"""The split index: every cell of a split (id, caption, batch, chunk, row) and the negatives pool.

Built from the chunks' meta tables only (never X). Negatives are drawn from this index, so they
depend on captions and batches alone; the sentence step reads only the annotation mapping.

The index is an uncompressed Arrow IPC file, memory-mapped by the jobs that read it: a
negatives job reads the slice of its chunk, and a shard job the ids and captions of its
negatives' rows only. Beside it, the split's negative pool (the sorted orderings and block
bounds of :class:`~adata_hf_datasets.negatives.NegativePool`) is computed once and mapped by
every negatives job. So no per-chunk job decodes or sorts the whole split, which made each of
them grow with the split (at a million cells, decoding the ids cost a shard job more than its
own work, and sorting the pool again cost each negatives job four times its sampling). Text
columns other than the ids are dictionary-encoded.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..core.negatives import NegativePool
from ..core.semantic import similar_annotations
from ..core.text import plain_text
from ..io.files import read_table, write_table
from ..records import ChunkReport, SentenceStats, SplitInfo

__all__ = [
    "build_split_index",
    "chunk_pool_rows",
    "index_table",
    "negative_pool",
    "pool_index_rows",
    "pool_rows_by_chunk",
    "read_index",
    "read_negative_pool",
    "split_similar_annotations",
    "write_index",
    "write_negative_pool",
]

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


def index_table(
    metas: list[tuple[str, pa.Table]],
    *,
    needs_captions: bool,
    left_out: dict[str, np.ndarray] | None = None,
) -> pa.Table:
    """Concatenate per-chunk meta tables (``sample_idx``, ``caption``, ``batch``) in chunk order
    and add ``chunk``, ``row`` and the pool columns.

    Cells without a caption are left out of the pool (``pool_pos`` -1) in caption formats, and
    so are the rows ``left_out[chunk]`` (cells with an empty gene list, when they are dropped);
    a missing batch is a batch of its own (those cells still get negatives).
    """
    names = [name for name, _ in metas]
    sizes = np.array([meta.num_rows for _, meta in metas], dtype=np.int64)

    def column(name: str) -> pa.Array:
        parts = [plain_text(meta.column(name)) for _, meta in metas]
        return pa.concat_arrays(parts) if parts else pa.array([], pa.string())

    ids, captions, batches = column("sample_idx"), column("caption"), column("batch")
    n = len(ids)
    if needs_captions:
        in_pool = captions.is_valid().to_numpy(zero_copy_only=False)
    else:
        in_pool = np.ones(n, dtype=bool)
    offsets = np.concatenate(([0], np.cumsum(sizes)))
    for position, name in enumerate(names):
        rows = (left_out or {}).get(name)
        if rows is not None and len(rows):
            in_pool[offsets[position] + np.asarray(rows, dtype=np.int64)] = False
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
    chunks: list[tuple[str, Path]],
    *,
    needs_captions: bool,
    sentence_stats: list[Path] | None = None,
) -> tuple[pa.Table, SplitInfo]:
    """Concatenate the meta tables of one split.

    Parameters
    ----------
    chunks
        ``(chunk name, meta table file)`` in chunk order.
    needs_captions
        Caption formats: cells without a caption are left out of the pool (``pool_pos`` -1).
    sentence_stats
        The chunks' sentence statistics, in chunk order, when cells with an empty gene list are
        dropped (``on_empty_sentence: drop``): those cells are left out of the pool.
    """
    metas = [(name, read_table(path, ["sample_idx", "caption", "batch"])) for name, path in chunks]
    left_out = None
    if sentence_stats is not None:
        left_out = {
            name: np.asarray(SentenceStats.read(path).empty_rows, dtype=np.int64)
            for (name, _), path in zip(chunks, sentence_stats, strict=True)
        }
    table = index_table(metas, needs_captions=needs_captions, left_out=left_out)
    in_pool = table.column("pool_pos").to_numpy() >= 0
    n = table.num_rows
    no_caption = table.column("caption").null_count if needs_captions else 0
    info = SplitInfo(
        cells=n,
        pool=int(in_pool.sum()),
        dropped_missing_caption=no_caption,
        dropped_empty_sentence=int(n - in_pool.sum()) - no_caption,
        batches=int(pc.max(table.column("batch_code")).as_py()) + 1 if n else 0,
        captions=_distinct(table.column("caption_code").to_numpy()[in_pool]),
        chunks=tuple(name for name, _ in chunks),
    )
    return table, info


def split_similar_annotations(reports: list[Path]) -> dict[str, str]:
    """For ``semantic_similar``: each annotation's most similar other annotation over the whole
    split, from its chunks' validation reports (their per-annotation embedding sums)."""
    parts = []
    for path in reports:
        sums = ChunkReport.read(path).annotation_sums
        if sums is None:
            raise ValueError(f"{path}: no annotation sums (rerun validate_chunk)")
        parts.append((sums.labels, np.asarray(sums.sums), np.asarray(sums.counts)))
    return similar_annotations(parts)


def _distinct(codes: np.ndarray) -> int:
    return int(np.count_nonzero(np.bincount(codes))) if codes.size else 0


def write_index(table: pa.Table, path: Path) -> None:
    """Write the index (memory-mappable, see :func:`read_index`)."""
    write_table(table, path)


def read_index(path: Path) -> pa.Table:
    """The whole index, memory-mapped: columns are read from disk only where they are used."""
    return read_table(path)


_POOL_METADATA = b"adata_hf_datasets.negative_pool"


def negative_pool(index: pa.Table) -> NegativePool:
    """The negative pool of a split index: its cells with a caption, by pool position."""
    in_pool = index.column("pool_pos").to_numpy() >= 0
    return NegativePool(
        index.column("batch_code").to_numpy()[in_pool],
        index.column("caption_code").to_numpy()[in_pool],
    )


def write_negative_pool(pool: NegativePool, path: Path) -> None:
    """Store the pool's precomputed arrays (memory-mappable, see :func:`read_negative_pool`)."""
    arrays = {name: pa.array(values) for name, values in pool.arrays().items()}
    counts = {"n_batches": pool.n_batches, "n_captions": pool.n_captions}
    table = pa.table(arrays, metadata={_POOL_METADATA: json.dumps(counts)})
    write_table(table, path)


def read_negative_pool(path: Path) -> NegativePool:
    """The pool written by :func:`write_negative_pool`, its arrays mapped (no copy, no sort)."""
    table = read_table(path)
    raw = (table.schema.metadata or {}).get(_POOL_METADATA)
    if raw is None:
        raise ValueError(f"{path}: not a negative pool file (rebuild it: rerun split_index)")
    arrays = {
        name: (
            table.column(name).chunk(0).to_numpy()  # zero-copy (raises if it would copy)
            if table.column(name).num_chunks
            else np.empty(0, table.schema.field(name).type.to_pandas_dtype())
        )
        for name in table.column_names
    }
    return NegativePool.from_arrays(arrays, **json.loads(raw))


def chunk_pool_rows(index: pa.Table, chunk: str) -> tuple[np.ndarray, np.ndarray]:
    """``(pool positions, chunk rows)`` of the cells of ``chunk`` that are in the pool.

    A chunk's cells are one contiguous run of the index (chunks are concatenated in order),
    so only that slice of the mapped file is read.
    """
    column = index.column("chunk").combine_chunks()
    names = column.dictionary.to_pylist()
    codes = column.indices.to_numpy()
    if chunk not in names:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int32)
    code = names.index(chunk)
    lo, hi = (int(x) for x in np.searchsorted(codes, [code, code + 1]))
    inside = bool((codes[lo:hi] == code).all())
    bounded = (lo == 0 or codes[lo - 1] < code) and (hi == len(codes) or codes[hi] > code)
    if not (inside and bounded):  # index_table writes chunks in order: a foreign file
        raise ValueError(f"split index: the rows of chunk '{chunk}' are not contiguous")
    pool_pos = index.column("pool_pos").to_numpy()[lo:hi]
    rows = index.column("row").to_numpy()[lo:hi]
    in_pool = pool_pos >= 0
    return pool_pos[in_pool].astype(np.int64), rows[in_pool]


def pool_rows_by_chunk(index: pa.Table) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """:func:`chunk_pool_rows` of every chunk, in one pass over the index (for the per-split
    jobs, which visit every chunk)."""
    column = index.column("chunk").combine_chunks()
    names = column.dictionary.to_pylist()
    codes = column.indices.to_numpy()
    pool_pos = index.column("pool_pos").to_numpy()
    rows = index.column("row").to_numpy()
    bounds = np.searchsorted(codes, np.arange(len(names) + 1))
    found = {}
    for code, name in enumerate(names):
        lo, hi = int(bounds[code]), int(bounds[code + 1])
        if not (codes[lo:hi] == code).all():  # index_table writes chunks in order
            raise ValueError(f"split index: the rows of chunk '{name}' are not contiguous")
        in_pool = pool_pos[lo:hi] >= 0
        found[name] = (pool_pos[lo:hi][in_pool].astype(np.int64), rows[lo:hi][in_pool])
    return found


def pool_index_rows(table: pa.Table) -> np.ndarray | None:
    """Index row of every pool position, or None when they coincide (no cell left out)."""
    pool_pos = table.column("pool_pos").to_numpy()
    if not pool_pos.size or pool_pos.min() >= 0:
        return None
    return np.flatnonzero(pool_pos >= 0)


def chunk_names(table: pa.Table) -> np.ndarray:
    """The ``chunk`` column as an object array of names."""
    column = table.column("chunk").combine_chunks()
    names = np.array(column.dictionary.to_pylist(), dtype=object)
    return names[column.indices.to_numpy()]
