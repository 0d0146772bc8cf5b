"""measure_negative_quality: how hard and how clean one split's negatives are.

One job per split, after its negatives are drawn. It reads each chunk's embedding
(``obsm[key]``, as unit vectors into a memory-mapped scratch file beside its output, so the
job's memory does not grow with the split) and the annotation column, then tallies, per
negative column, the anchor-negative cosine and how often the pair shares a batch, a caption or
an annotation; besides, each anchor's positive reference and a random same-batch
different-caption baseline (DESIGN.md section 4b). Nothing here changes a row of the dataset.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..core.formats import is_caption_negative
from ..core.negative_quality import (
    PairTally,
    caption_sums,
    pair_similarity,
    positive_references,
    reuse_counts,
    unit_rows,
)
from ..core.negatives import chunk_rng, sample_negatives
from ..errors import InputError
from ..io.reader import ChunkReader
from ..records import NegativeColumnQuality, SimilarityTally, SplitNegativeQuality
from .negatives import read_negatives
from .split_index import chunk_pool_rows, read_index, read_negative_pool

__all__ = ["BASELINE_STREAM", "measure_negative_quality", "negative_quality_summary"]

BASELINE_STREAM = "negative-quality-baseline"
"""The 'chunk' name of the baseline's random stream (``chunk_rng(seed, split, ...)``)."""


def _embedding_of_pool(
    chunks: Sequence[tuple[str, Path]], index, n: int, key: str, scratch: Path
) -> tuple[np.ndarray, int]:
    """Unit vectors of the pool's cells, by pool position, in a memory-mapped scratch file."""
    vectors = None
    without_direction = 0
    for name, path in chunks:
        positions, rows = chunk_pool_rows(index, name)
        with ChunkReader(path) as reader:
            if key not in reader.obsm_keys:
                raise InputError(
                    f"{path}: obsm key '{key}' not found (present: {reader.obsm_keys}); the "
                    "negative-quality report measures similarities in it: add it to "
                    "dataset_creation.required_obsm_keys or set similarity_obsm_key"
                )
            embedding = reader.obsm(key)
        units, bad = unit_rows(np.asarray(embedding)[rows])
        without_direction += bad
        if vectors is None:
            vectors = np.lib.format.open_memmap(
                scratch, mode="w+", dtype=np.float32, shape=(n, units.shape[1])
            )
        elif units.shape[1] != vectors.shape[1]:
            raise InputError(
                f"{path}: obsm['{key}'] has {units.shape[1]} dimensions, the split's first chunk "
                f"{vectors.shape[1]}: every chunk of a split needs the same embedding"
            )
        vectors[positions] = units
    if vectors is None:
        return np.zeros((n, 1), dtype=np.float32), 0
    vectors.flush()
    return vectors, without_direction


def _annotation_codes(
    chunks: Sequence[tuple[str, Path]], index, n: int, key: str
) -> np.ndarray | None:
    """Annotation code of each pool cell (-1: none), codes by first appearance; None when a
    chunk has no such obs column (then the report has no same-annotation fraction)."""
    codes = np.full(n, -1, dtype=np.int64)
    known: dict[str, int] = {}
    for name, path in chunks:
        positions, rows = chunk_pool_rows(index, name)
        with ChunkReader(path) as reader:
            if key not in reader.obs_columns:
                return None
            text = np.asarray(reader.obs_text(key), dtype=object)[rows]
        present = np.array([t is not None and t != "" for t in text], dtype=bool)
        labels, inverse = np.unique(text[present].astype(str), return_inverse=True)
        mapped = np.array([known.setdefault(label, len(known)) for label in labels.tolist()])
        codes[positions[present]] = mapped[inverse] if labels.size else -1
    return codes


def measure_negative_quality(
    *,
    chunks: Sequence[tuple[str, Path]],
    index_path: Path,
    pool_path: Path,
    negatives: Sequence[Path],
    k: int,
    split: str,
    seed: int,
    embedding_key: str | None,
    annotation_key: str | None,
    all_caption_negatives: bool,
    scratch: Path,
) -> SplitNegativeQuality:
    """The negative-quality record of one split.

    Parameters
    ----------
    chunks
        ``(chunk name, chunk file)`` in chunk order.
    negatives
        The chunks' negatives files, in the same order.
    embedding_key
        The obsm key to measure similarities in; None: fractions only.
    all_caption_negatives
        ``pairs``: every column is a caption negative; else odd columns are.
    scratch
        A file for the split's unit vectors (memory-mapped; removed at the end).
    """
    index = read_index(index_path)
    pool = read_negative_pool(pool_path)
    n = pool.n
    batch, caption = pool.batch_codes, pool.caption_codes
    try:
        vectors, without_direction = (
            _embedding_of_pool(chunks, index, n, embedding_key, scratch)
            if embedding_key
            else (None, 0)
        )
        annotation = _annotation_codes(chunks, index, n, annotation_key) if annotation_key else None
        if annotation is None:
            annotation_key = None

        reference = PairTally()
        if vectors is not None and n:
            n_codes = int(caption.max()) + 1
            sums, counts = caption_sums(vectors, caption, n_codes)
            reference.add_values(positive_references(vectors, caption, sums, counts))

        def tally(tallied: PairTally, left: np.ndarray, right: np.ndarray) -> None:
            tallied.add_pairs(
                similarity=pair_similarity(vectors, left, right) if vectors is not None else None,
                same_batch=batch[left] == batch[right],
                same_caption=caption[left] == caption[right],
                annotations=(annotation[left], annotation[right])
                if annotation is not None
                else None,
            )

        columns = [PairTally() for _ in range(k)]
        reuse = [np.zeros(n, dtype=np.int64) for _ in range(k)]
        for (name, _), path in zip(chunks, negatives, strict=True):
            anchors, rows = chunk_pool_rows(index, name)
            negative_rows, drawn = read_negatives(path, k)
            if not np.array_equal(negative_rows, rows):
                raise ValueError(f"{path}: its anchors are not those of chunk '{name}' (rerun it)")
            for j in range(k):
                valid = drawn[:, j] >= 0
                tally(columns[j], anchors[valid], drawn[valid, j])
                reuse[j] += reuse_counts(drawn[:, j], n)

        baseline = PairTally()
        if n:
            drawn, _ = sample_negatives(
                pool, np.arange(n), k=1, rng=chunk_rng(seed, split, BASELINE_STREAM)
            )
            anchors = np.arange(n)
            wanted = (batch[anchors] == batch[drawn[:, 0]]) & (
                caption[anchors] != caption[drawn[:, 0]]
            )
            tally(baseline, anchors[wanted], drawn[wanted, 0])
    finally:
        if os.path.exists(scratch):
            os.unlink(scratch)

    return SplitNegativeQuality(
        embedding=embedding_key,
        annotation_key=annotation_key,
        vectors_without_direction=without_direction,
        positive_reference=SimilarityTally.of(reference),
        baseline=SimilarityTally.of(baseline),
        columns=tuple(
            NegativeColumnQuality(
                column=f"negative_{j + 1}_idx",
                kind="caption"
                if all_caption_negatives or is_caption_negative(j + 1)
                else "sentence",
                mined=False,
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
