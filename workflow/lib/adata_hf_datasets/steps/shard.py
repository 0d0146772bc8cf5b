"""The shard step of one chunk: join sentences, captions, negatives and the link into its rows,
written as one Arrow IPC stream file (the format ``datasets`` itself writes)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..core.formats import FormatSpec
from ..core.rows import RowCounts, ShardInputs, shard_batches
from ..core.text import plain_text
from ..io.files import read_table, write_ipc_stream
from ..progress import Progress
from ..records import ShardStats
from .negatives import read_negatives
from .sentences import SentenceFile, meta_sentence_column, sentences_from_meta, stream_sentences
from .split_index import chunk_names, chunk_pool_rows, pool_index_rows, read_index

__all__ = ["SentenceResolver", "build_chunk_shard", "chunk_shard_inputs", "write_chunk_shard"]

log = logging.getLogger(__name__)


class SentenceResolver:
    """Cell sentence (first sentence key) of any index row of the split.

    ``take(chunk)`` gives a function from chunk rows to their sentences; the workflow opens the
    chunks' sentence files (memory-mapped, on first use, spelling only the rows taken), the
    Python API reads its in-memory columns.
    """

    def __init__(
        self, index: pa.Table, take: Callable[[str], Callable[[np.ndarray], pa.Array]]
    ) -> None:
        self.index_chunk = chunk_names(index)
        self.index_row = index.column("row").to_numpy()
        self._take = take
        self._open: dict[str, Callable[[np.ndarray], pa.Array]] = {}

    @classmethod
    def from_files(cls, index: pa.Table, files: dict[str, Path]) -> SentenceResolver:
        """From the chunks' sentence files."""

        def take(chunk: str) -> Callable[[np.ndarray], pa.Array]:
            return SentenceFile(files[chunk], memory_map=True).take

        return cls(index, take)

    @classmethod
    def from_metas(cls, index: pa.Table, files: dict[str, Path], key: str) -> SentenceResolver:
        """From the chunks' meta tables, for a sentence key that needs no gene list."""

        def take(chunk: str) -> Callable[[np.ndarray], pa.Array]:
            column = read_table(files[chunk], [meta_sentence_column(key)]).column(0)
            return lambda rows: plain_text(column.take(pa.array(rows)))

        return cls(index, take)

    def __call__(self, index_rows: np.ndarray) -> pa.Array:
        chunks = self.index_chunk[index_rows]
        rows = self.index_row[index_rows]
        pieces, order = [], []
        for chunk in sorted(set(chunks)):
            if chunk not in self._open:
                self._open[chunk] = self._take(chunk)
            where = np.flatnonzero(chunks == chunk)
            pieces.append(self._open[chunk](rows[where]).cast(pa.string()))
            order.append(where)
        if not pieces:
            return pa.array([], pa.string())
        gathered = pa.concat_arrays(pieces)
        inverse = np.empty(len(index_rows), dtype=np.int64)
        inverse[np.concatenate(order)] = np.arange(len(index_rows))
        return gathered.take(pa.array(inverse))


def chunk_shard_inputs(
    *,
    spec: FormatSpec,
    meta: pa.Table,
    sentences: pa.Table | pa.RecordBatchReader,
    link: str,
    index: pa.Table | None = None,
    anchor_rows: np.ndarray | None = None,
    negatives: np.ndarray | None = None,
    resolver: SentenceResolver | None = None,
    chunk: str | None = None,
) -> ShardInputs:
    """What a chunk's rows are made of (the workflow and the Python API share this).

    ``meta``: the chunk's ``sample_idx`` and ``caption``; ``index``: the split index;
    ``anchor_rows`` / ``negatives``: the chunk's anchors and their negatives' pool positions
    (caption formats only; cells outside the pool are no anchors). ``single``: the rows are
    the chunk's cells in the split's pool (all, unless cells with an empty gene list are
    dropped), or all its cells without an ``index``.
    """
    ids = meta.column("sample_idx").combine_chunks()
    if spec.dataset_format == "single":
        rows = (
            chunk_pool_rows(index, chunk)[1].astype(np.int64)
            if index is not None
            else np.arange(meta.num_rows, dtype=np.int64)
        )
        return ShardInputs(
            sentences=sentences, sample_idx=ids, captions=None, anchor_rows=rows, link=link
        )
    index_rows = pool_index_rows(index)
    if index_rows is not None:  # cells left out of the pool: pool position -> index row
        negatives = np.where(negatives >= 0, index_rows[np.maximum(negatives, 0)], -1)
    # The index may be memory-mapped: only the ids and captions of the negatives are read.
    return ShardInputs(
        sentences=sentences,
        sample_idx=ids,
        captions=meta.column("caption").combine_chunks(),
        anchor_rows=np.asarray(anchor_rows, dtype=np.int64),
        link=link,
        negatives=negatives,
        pool_ids=index.column("sample_idx"),
        pool_captions=index.column("caption"),
        resolve_sentence=resolver,
    )


def write_chunk_shard(
    shard_path: Path, spec: FormatSpec, inputs: ShardInputs, *, chunk: str, n_cells: int
) -> ShardStats:
    """Write the chunk's shard (atomically, hashed while written) and return its statistics."""
    counts = RowCounts()
    samples = len(inputs.anchor_rows)
    progress = Progress(log, samples, f"shard {chunk}")
    batches = shard_batches(spec, inputs, counts, on_anchors=progress.advance)
    sha256 = write_ipc_stream(shard_path, spec.schema(), batches)
    progress.finish()
    return ShardStats(
        chunk=chunk,
        rows=counts.rows,
        samples=samples,
        sha256=sha256,
        dropped=n_cells - samples,
        pairs_negative_rows_skipped=counts.pairs_negative_rows_skipped,
    )


def build_chunk_shard(
    *,
    spec: FormatSpec,
    chunk: str,
    sentences_path: Path | None,
    meta_path: Path,
    index_path: Path,
    link: str,
    negatives_path: Path | None = None,
    split_sentence_files: dict[str, Path] | None = None,
    sentence_keys: tuple[str, ...] = (),
    shard_path: Path,
) -> ShardStats:
    """The shard step: write the chunk's shard from the files of the earlier steps.

    Without a sentence file (no key needs a gene list) the sentences (``sentence_keys``) come
    from the meta table, and ``split_sentence_files`` are the split's meta tables.
    """
    meta = read_table(meta_path)
    index = read_index(index_path)  # memory-mapped: only what is used is read
    anchor_rows = negatives = resolver = None
    if spec.dataset_format != "single":
        anchor_rows, negatives = read_negatives(negatives_path, spec.negatives_per_sample)
        if spec.resolve_negatives and sentences_path is None:
            files = split_sentence_files or {}
            resolver = SentenceResolver.from_metas(index, files, sentence_keys[0])
        elif spec.resolve_negatives:
            resolver = SentenceResolver.from_files(index, split_sentence_files or {})
    inputs = chunk_shard_inputs(
        spec=spec,
        meta=meta,
        sentences=(
            stream_sentences(sentences_path)
            if sentences_path is not None
            else sentences_from_meta(meta, sentence_keys)
        ),
        link=link,
        index=index,
        anchor_rows=anchor_rows,
        negatives=negatives,
        resolver=resolver,
        chunk=chunk,
    )
    return write_chunk_shard(shard_path, spec, inputs, chunk=chunk, n_cells=meta.num_rows)
