"""measure_negative_quality: how hard and how clean one split's negatives are.

One job per split, after its negatives are drawn. From the split's embedding files (unit
vectors, annotations and positive references of every cell, see ``steps/embedding``) it
tallies, per negative column, the anchor-negative cosine and how often the pair shares a batch,
a caption or an annotation; besides, the anchors' positive references and a random same-batch
different-caption baseline (DESIGN.md section 4b). Nothing here changes a row of the dataset.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..core.formats import is_caption_negative
from ..core.negative_quality import PairTally, add_reuse, pair_similarity
from ..core.negatives import chunk_rng, sample_negatives
from ..records import NegativeColumnQuality, SimilarityTally, SplitNegativeQuality
from .embedding import SplitEmbedding
from .negatives import read_negatives
from .split_index import pool_rows_by_chunk, read_index, read_negative_pool

__all__ = ["BASELINE_STREAM", "measure_negative_quality", "negative_quality_summary"]

BASELINE_STREAM = "negative-quality-baseline"
"""The 'chunk' name of the baseline's random stream (``chunk_rng(seed, split, ...)``)."""


def measure_negative_quality(
    *,
    chunks: Sequence[str],
    index_path: Path,
    pool_path: Path,
    embedding: SplitEmbedding,
    negatives: Sequence[Path],
    k: int,
    split: str,
    seed: int,
    all_caption_negatives: bool,
    mined: bool = False,
) -> SplitNegativeQuality:
    """The negative-quality record of one split.

    Parameters
    ----------
    chunks
        The split's chunk names, in order; ``negatives`` their negatives files.
    all_caption_negatives
        ``pairs``: every column is a caption negative; else odd columns are.
    mined
        The caption columns were mined (``hard_negatives``).
    """
    index = read_index(index_path)
    pool = read_negative_pool(pool_path)
    n = pool.n
    batch, caption = pool.batch_codes, pool.caption_codes
    annotation = embedding.annotations
    has_vectors = embedding.key is not None and embedding.vectors.shape[1] > 0

    reference = PairTally()
    if has_vectors:
        reference.add_values(embedding.references)

    def tally(tallied: PairTally, left: np.ndarray, right: np.ndarray) -> None:
        similarity = None
        if has_vectors:
            slots = embedding.slots
            similarity = pair_similarity(embedding.vectors, slots[left], slots[right])
        tallied.add_pairs(
            similarity=similarity,
            same_batch=batch[left] == batch[right],
            same_caption=caption[left] == caption[right],
            annotations=(annotation[left], annotation[right]) if annotation is not None else None,
        )

    columns = [PairTally() for _ in range(k)]
    reuse = [np.zeros(n, dtype=np.int64) for _ in range(k)]
    by_chunk = pool_rows_by_chunk(index)
    empty = (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int32))
    for name, path in zip(chunks, negatives, strict=True):
        anchors, rows = by_chunk.get(name, empty)
        negative_rows, drawn = read_negatives(path, k)
        if not np.array_equal(negative_rows, rows):
            raise ValueError(f"{path}: its anchors are not those of chunk '{name}' (rerun it)")
        for j in range(k):
            valid = drawn[:, j] >= 0
            tally(columns[j], anchors[valid], drawn[valid, j])
            add_reuse(reuse[j], drawn[:, j])

    baseline = PairTally()
    if n:
        drawn, _ = sample_negatives(
            pool, np.arange(n), k=1, rng=chunk_rng(seed, split, BASELINE_STREAM)
        )
        anchors = np.arange(n)
        wanted = (batch == batch[drawn[:, 0]]) & (caption != caption[drawn[:, 0]])
        tally(baseline, anchors[wanted], drawn[wanted, 0])

    def kind(j: int) -> str:
        return "caption" if all_caption_negatives or is_caption_negative(j + 1) else "sentence"

    return SplitNegativeQuality(
        embedding=embedding.key if has_vectors else None,
        annotation_key=embedding.annotation_key,
        vectors_without_direction=embedding.without_direction,
        positive_reference=SimilarityTally.of(reference),
        baseline=SimilarityTally.of(baseline),
        columns=tuple(
            NegativeColumnQuality(
                column=f"negative_{j + 1}_idx",
                kind=kind(j),
                mined=mined and kind(j) == "caption",
                tally=SimilarityTally.of(columns[j]),
                reuse_max=int(reuse[j].max()) if n else 0,
                reuse_p99=int(np.quantile(reuse[j], 0.99, method="higher")) if n else 0,
            )
            for j in range(k)
        ),
    )


def negative_quality_summary(record: SplitNegativeQuality) -> dict:
    """The split's entry of ``summary.json["negative_quality"]`` (DESIGN.md section 4b): per
    negative column its kind, whether it was mined, the mean and quantiles of the
    anchor-negative cosine, the same-batch/caption/annotation fractions and the reuse of one
    cell as a negative; the positive reference and the random baseline to read them against."""
    has_annotation = record.annotation_key is not None
    summary: dict = {
        "embedding": record.embedding,
        "annotation_key": record.annotation_key,
        "vectors_without_direction": record.vectors_without_direction,
        "positive_reference": {
            k: v
            for k, v in record.positive_reference.tally().summary(has_annotation=False).items()
            if not k.endswith("_fraction")
        },
        "baseline_same_batch_other_caption": record.baseline.tally().summary(
            has_annotation=has_annotation
        ),
    }
    for column in record.columns:
        summary[column.column] = {
            "kind": column.kind,
            "mined": column.mined,
            **column.tally.tally().summary(has_annotation=has_annotation),
            "reuse_max": column.reuse_max,
            "reuse_p99": column.reuse_p99,
        }
    return summary
