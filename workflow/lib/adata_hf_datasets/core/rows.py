"""A chunk's rows in its dataset format, as Arrow record batches.

The inputs (:class:`ShardInputs`) are the chunk's sentence columns, ids and captions, its
anchors' negatives (positions into the split) and the split's ids and captions; the rows come
out in anchor order, at most :data:`SHARD_BATCH_ROWS` anchors a batch, so memory follows one
batch whatever the chunk size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from .formats import FormatSpec, is_caption_negative
from .text import plain_text

__all__ = ["SHARD_BATCH_ROWS", "RowCounts", "ShardInputs", "shard_batches"]

SHARD_BATCH_ROWS = 8192


def _take(array: pa.Array | pa.ChunkedArray, positions: np.ndarray) -> pa.Array:
    """Rows at ``positions`` as one contiguous array (only those rows are materialised);
    dictionary-encoded text comes out as plain strings. A run of consecutive rows (the
    anchors of a chunk, mostly) is a zero-copy slice."""
    if (
        isinstance(array, pa.Array)
        and positions.shape[0] > 1
        and int(positions[-1]) - int(positions[0]) + 1 == positions.shape[0]
        and bool((np.diff(positions) == 1).all())
        and not pa.types.is_dictionary(array.type)
    ):
        return array.slice(int(positions[0]), positions.shape[0])
    return plain_text(array.take(pa.array(positions, pa.int64())))


@dataclass
class ShardInputs:
    """Everything one chunk's shard is made of.

    ``sentences``: the chunk's sentence columns (all rows, chunk order), as a table or as a
    stream of record batches (read once, in order: memory then follows one batch);
    ``sample_idx`` and ``captions``: the chunk's ids and captions (all rows); ``anchor_rows``:
    chunk rows that become samples; ``negatives``: one row per anchor, positions into
    ``pool_ids`` and ``pool_captions`` (the split's ids and captions, plain or
    dictionary-encoded, possibly memory-mapped: only the rows taken are read);
    ``resolve_sentence``: maps those positions to the sentence text (for resolved sentence
    negatives).
    """

    sentences: pa.Table | pa.RecordBatchReader
    sample_idx: pa.Array
    captions: pa.Array | None
    anchor_rows: np.ndarray
    link: str
    negatives: np.ndarray | None = None
    pool_ids: pa.Array | pa.ChunkedArray | None = None
    pool_captions: pa.Array | pa.ChunkedArray | None = None
    resolve_sentence: Callable[[np.ndarray], pa.Array] | None = None


def _anchor_groups(
    inputs: ShardInputs, n_sentences: int
) -> Iterator[tuple[int, np.ndarray, list[pa.Array]]]:
    """``(first anchor, chunk rows, sentence columns)`` per output batch, in anchor order.

    With ascending anchor rows (the workflow's case) the sentences are walked batch by batch
    and a run of consecutive rows is a zero-copy slice of the sentence batch: the text is
    neither copied nor held beyond its batch. Other orders fall back to ``take`` on the
    whole table.
    """
    rows_all = np.asarray(inputs.anchor_rows, dtype=np.int64)
    n_anchor = rows_all.shape[0]
    if n_anchor > 1 and not bool((rows_all[1:] > rows_all[:-1]).all()):
        table = inputs.sentences
        if not isinstance(table, pa.Table):
            table = table.read_all()
        for start in range(0, n_anchor, SHARD_BATCH_ROWS):
            rows = rows_all[start : start + SHARD_BATCH_ROWS]
            yield start, rows, [_take(table.column(i), rows) for i in range(n_sentences)]
        return
    sentences = inputs.sentences
    batches = iter(sentences.to_batches() if isinstance(sentences, pa.Table) else sentences)
    first_row = 0
    done = 0
    while done < n_anchor:
        batch = next(batches, None)  # the previous batch is released before this read
        if batch is None:
            break
        end_row = first_row + batch.num_rows
        stop = int(np.searchsorted(rows_all, end_row, side="left"))
        while done < stop:
            rows = rows_all[done : min(stop, done + SHARD_BATCH_ROWS)]
            local = rows - first_row
            if int(local[-1] - local[0]) + 1 == local.shape[0]:
                columns = [
                    batch.column(i).slice(int(local[0]), local.shape[0]) for i in range(n_sentences)
                ]
            else:
                columns = [_take(batch.column(i), local) for i in range(n_sentences)]
            yield done, rows, columns
            done += rows.shape[0]
            del columns
        first_row = end_row
        del batch
    if done < n_anchor:
        raise ValueError(
            f"anchor row {int(rows_all[done])} is beyond the {first_row} rows of the sentences; "
            "the sentence file does not belong to this chunk (rerun its cell_sentences job)"
        )


@dataclass
class RowCounts:
    """Rows written so far, and ``pairs`` rows skipped (a caption negative that had to fall back
    to a same-caption cell would be a false negative pair)."""

    rows: int = 0
    pairs_negative_rows_skipped: int = 0


def shard_batches(
    spec: FormatSpec,
    inputs: ShardInputs,
    counts: RowCounts,
    *,
    on_anchors: Callable[[int], None] | None = None,
) -> Iterator[pa.RecordBatch]:
    """Record batches of the shard, in anchor order, at most ``SHARD_BATCH_ROWS`` anchors each;
    ``counts`` is updated as batches are consumed, and ``on_anchors(n)`` is called once the
    batch of ``n`` anchors has been consumed."""
    schema = spec.schema()
    link_column = pa.array([], pa.string())  # one column of the link, sliced per batch
    for start, rows, sentence_cols in _anchor_groups(inputs, spec.n_sentences):
        ids = _take(inputs.sample_idx, rows)
        if spec.dataset_format == "single":
            columns = [ids, *sentence_cols]
        elif spec.dataset_format == "multiplets":
            negatives = inputs.negatives[start : start + len(rows)]
            columns = [ids, *sentence_cols, _take(inputs.captions, rows)]
            for j in range(spec.negatives_per_sample):
                columns.append(_take(inputs.pool_ids, negatives[:, j]))
                if spec.resolve_negatives:
                    if is_caption_negative(j + 1):  # its caption
                        columns.append(_take(inputs.pool_captions, negatives[:, j]))
                    else:  # sentence negative: its cell sentence
                        columns.append(inputs.resolve_sentence(negatives[:, j]))
        else:
            batch_columns, skipped = _pairs_columns(spec, inputs, start, rows, ids, sentence_cols)
            counts.pairs_negative_rows_skipped += skipped
            columns = batch_columns
        n_rows = len(columns[0])
        if len(link_column) < n_rows:
            link_column = pa.array([inputs.link] * n_rows, pa.string())
        columns.append(link_column.slice(0, n_rows))
        batch = pa.record_batch(columns, schema=schema)
        del columns, sentence_cols
        counts.rows += batch.num_rows
        yield batch
        if on_anchors is not None:
            on_anchors(len(rows))
        del batch


def _pairs_columns(spec, inputs, start, rows, ids, sentence_cols):
    """Per anchor: its own caption (label 1.0), then one row per negative (label 0.0).

    In ``pairs`` every negative column holds a caption negative whose caption is new to its
    row (:mod:`~adata_hf_datasets.core.caption_negatives`); a column left at -1 (no new
    caption left in the split) gives no row, counted as skipped.
    """
    negatives = inputs.negatives[start : start + len(rows)]
    k = spec.negatives_per_sample
    found = negatives >= 0
    own = _take(inputs.captions, rows)
    neg_captions = [
        _take(inputs.pool_captions, np.where(found[:, j], negatives[:, j], 0)) for j in range(k)
    ]
    # Rows in order: anchor a's positive, then its negatives in column order.
    source = np.ones((len(rows), 1 + k), dtype=bool)
    source[:, 1:] = found
    anchor_of_row, slot_of_row = np.nonzero(source)  # row-major: grouped by anchor, in slot order
    labels = np.where(slot_of_row == 0, 1.0, 0.0).astype(np.float32)
    # caption per output row: concatenate [own, negatives' captions...], take (slot * n + anchor)
    all_captions = pa.concat_arrays([own, *neg_captions])
    caption = _take(all_captions, slot_of_row * len(rows) + anchor_of_row)
    skipped = int(found.size - found.sum())
    columns = [
        _take(ids, anchor_of_row),
        *[_take(c, anchor_of_row) for c in sentence_cols],
        caption,
        pa.array(labels, pa.float32()),
    ]
    return columns, skipped
