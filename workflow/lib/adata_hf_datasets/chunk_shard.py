"""The shard step of one chunk: join sentences, captions, negatives and the link."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pyarrow as pa

from ._files import read_table
from .chunk_negatives import read_negatives
from .chunk_sentences import SentenceFile, stream_sentences
from .progress import Progress
from .shards import FormatSpec, ShardInputs, shard_batches, write_shard
from .split_index import chunk_names, pool_index_rows, read_index

log = logging.getLogger(__name__)


class SentenceResolver:
    """Cell sentence (first sentence key) of any index row, read from the chunks' files.

    Files are memory-mapped and opened on first use; only the rows taken are spelled out.
    """

    def __init__(
        self, index_chunk: np.ndarray, index_row: np.ndarray, files: dict[str, Path]
    ) -> None:
        self.index_chunk = index_chunk
        self.index_row = index_row
        self.files = files
        self._open: dict[str, SentenceFile] = {}

    def _file(self, chunk: str) -> SentenceFile:
        if chunk not in self._open:
            self._open[chunk] = SentenceFile(self.files[chunk], memory_map=True)
        return self._open[chunk]

    def __call__(self, positions: np.ndarray) -> pa.Array:
        chunks = self.index_chunk[positions]
        rows = self.index_row[positions]
        pieces, order = [], []
        for chunk in sorted(set(chunks)):
            where = np.flatnonzero(chunks == chunk)
            pieces.append(self._file(chunk).take(rows[where]).cast(pa.string()))
            order.append(where)
        if not pieces:
            return pa.array([], pa.string())
        gathered = pa.concat_arrays(pieces)
        inverse = np.empty(len(positions), dtype=np.int64)
        inverse[np.concatenate(order)] = np.arange(len(positions))
        return gathered.take(pa.array(inverse))


def build_chunk_shard(
    *,
    spec: FormatSpec,
    chunk: str,
    sentences_path: Path,
    meta_path: Path,
    index_path: Path,
    link: str,
    negatives_path: Path | None = None,
    split_sentence_files: dict[str, Path] | None = None,
    shard_path: Path,
) -> dict:
    """Write the chunk's shard; return its stats (rows, sha256, skipped pair rows)."""
    sentences = stream_sentences(sentences_path)
    meta = read_table(meta_path, ["sample_idx", "caption"])
    stats: dict = {"chunk": chunk}
    if spec.dataset_format == "single":
        inputs = ShardInputs(
            sentences=sentences,
            sample_idx=meta.column("sample_idx").combine_chunks(),
            captions=None,
            anchor_rows=np.arange(meta.num_rows, dtype=np.int64),
            link=link,
        )
    else:
        rows, negatives = read_negatives(negatives_path, spec.negatives_per_sample)
        # Memory-mapped: only the ids and captions of this chunk's negatives are read.
        index = read_index(index_path)
        index_rows = pool_index_rows(index)
        if index_rows is not None:  # cells left out of the pool: pool position -> index row
            negatives = index_rows[negatives]
        resolver = None
        if spec.resolve_negatives:
            resolver = SentenceResolver(
                chunk_names(index), index.column("row").to_numpy(), split_sentence_files or {}
            )
        inputs = ShardInputs(
            sentences=sentences,
            sample_idx=meta.column("sample_idx").combine_chunks(),
            captions=meta.column("caption").combine_chunks(),
            anchor_rows=rows.astype(np.int64),
            link=link,
            negatives=negatives,
            pool_ids=index.column("sample_idx"),
            pool_captions=index.column("caption"),
            resolve_sentence=resolver,
        )
        stats["dropped_missing_caption"] = int(meta.num_rows - len(rows))
    stats["samples"] = len(inputs.anchor_rows)
    progress = Progress(log, stats["samples"], f"shard {chunk}")
    batches = shard_batches(spec, inputs, stats, on_anchors=progress.advance)
    stats["sha256"] = write_shard(shard_path, spec, batches)
    progress.finish()
    return stats
