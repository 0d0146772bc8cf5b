"""The negatives step of one chunk: anchors of this chunk, candidates from the whole split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from ..core.caption_negatives import sample_distinct_caption_negatives
from ..core.formats import is_caption_negative
from ..core.hard_negatives import MiningSettings, mine_caption_negatives
from ..core.negatives import FallbackCounts, NegativePool, chunk_rng, sample_negatives
from ..io.files import read_table, write_table
from ..records import HardNegativeSpec
from .embedding import SplitEmbedding
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
    mining: HardNegativeSpec | None = None,
    embedding: SplitEmbedding | None = None,
) -> tuple[np.ndarray, np.ndarray, FallbackCounts]:
    """``(anchor rows in the chunk, (n, k) pool positions, counts)`` for the anchors of ``chunk``.

    ``distinct_captions`` (the ``pairs`` format): every column is a caption negative whose
    caption is new to its row (-1 where none is left); else odd columns are caption negatives
    and even ones sentence negatives. The random stream comes from (seed, split, chunk) only,
    so the result does not depend on how many jobs run or in which order. ``mining`` (with the
    split's ``embedding``): the caption columns are mined where a level has a free cell in the
    window (DESIGN.md section 4b), from a stream of their own.
    """
    anchors, rows = chunk_pool_rows(index, chunk)
    sample = sample_distinct_caption_negatives if distinct_captions else sample_negatives
    negatives, counts = sample(pool, anchors, k=k, rng=chunk_rng(seed, split, chunk))
    if mining is not None and embedding is not None:
        negatives, counts = _mine(
            pool, embedding, anchors, negatives, counts, mining, seed=seed, split=split, chunk=chunk
        )
    return rows, negatives, counts


def _mine(
    pool: NegativePool,
    embedding: SplitEmbedding,
    anchors: np.ndarray,
    negatives: np.ndarray,
    counts: FallbackCounts,
    mining: HardNegativeSpec,
    *,
    seed: int,
    split: str,
    chunk: str,
) -> tuple[np.ndarray, FallbackCounts]:
    """The random negatives with their caption columns mined; the counts follow."""
    columns = [j for j in range(negatives.shape[1]) if is_caption_negative(j + 1)]
    mined, levels = mine_caption_negatives(
        embedding.index,
        anchors,
        negatives,
        columns,
        captions=pool.caption_codes,
        batches=pool.batch_codes,
        annotations=embedding.annotations if mining.exclude_same_annotation else None,
        references=embedding.references if mining.relative_margin is not None else None,
        settings=MiningSettings(
            range_min=mining.range_min,
            range_max=mining.range_max,
            sampling=mining.sampling,
            relative_margin=mining.relative_margin,
            exclude_same_annotation=mining.exclude_same_annotation,
        ),
        rng=chunk_rng(seed, split, f"{chunk}/hard-negatives"),
    )
    replaced = _random_caption_levels(pool, anchors, negatives, levels > 0)
    counts = (
        counts
        - replaced
        + FallbackCounts(
            mined_same_batch=int(np.count_nonzero(levels == 1)),
            mined_other_batch=int(np.count_nonzero(levels == 2)),
        )
    )
    return mined, counts


def _random_caption_levels(
    pool: NegativePool, anchors: np.ndarray, negatives: np.ndarray, where: np.ndarray
) -> FallbackCounts:
    """The levels the sampler counted for the random caption negatives at ``where`` (they are
    read back from the codes: another caption in the anchor's batch, in another batch, the
    anchor's caption, or a repeat of an earlier negative of the row)."""
    rows, columns = np.nonzero(where)
    if not rows.size:
        return FallbackCounts()
    chosen = negatives[rows, columns]
    anchor = anchors[rows]
    earlier = negatives[rows]
    repeat = (
        (earlier == chosen[:, None]) & (np.arange(negatives.shape[1]) < columns[:, None])
    ).any(axis=1)
    other_caption = pool.caption_codes[chosen] != pool.caption_codes[anchor]
    same_batch = pool.batch_codes[chosen] == pool.batch_codes[anchor]
    return FallbackCounts(
        caption_same_batch=int(np.count_nonzero(~repeat & other_caption & same_batch)),
        caption_other_batch=int(np.count_nonzero(~repeat & other_caption & ~same_batch)),
        caption_as_sentence=int(np.count_nonzero(~repeat & ~other_caption)),
        repeated=int(np.count_nonzero(repeat)),
    )


def chunk_negatives(
    index_path: Path,
    pool_path: Path,
    *,
    split: str,
    chunk: str,
    k: int,
    seed: int,
    distinct_captions: bool = False,
    mining: HardNegativeSpec | None = None,
    embedding: SplitEmbedding | None = None,
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
        mining=mining,
        embedding=embedding,
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
