"""How hard and how clean the negatives are (DESIGN.md section 4b), in numbers that add up.

A contrastive model learns from negatives that are close to the anchor yet wrong for it. Two
things say whether a split's negatives are useful: their *hardness* (the cosine similarity of
anchor and negative in a cell embedding, next to the anchor's similarity to its own caption's
cells) and their *cleanliness* (how often a negative shares the anchor's batch, caption or
annotation: a caption negative with the anchor's annotation may be a false negative).

Everything here is a tally that adds up over blocks of anchors: integer histograms of the
cosine on a fixed grid, integer counts, and a float sum taken in a fixed order. So a split's
report does not depend on how its anchors were cut into blocks, and the mean and quantiles come
out of the tallies alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

__all__ = [
    "BINS",
    "QUANTILES",
    "PairTally",
    "add_reuse",
    "histogram_quantiles",
    "pair_similarity",
    "positive_references",
    "unit_rows",
]

BINS = 200
"""Histogram bins of the cosine over [-1, 1] (0.01 wide): quantiles are read to that width."""
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
_BLOCK = 65536  # rows gathered at a time: a few MB of float64 whatever the split size


def unit_rows(vectors: np.ndarray) -> tuple[np.ndarray, int]:
    """``(rows scaled to unit length as float32, rows that cannot be)``.

    A row of zeros or with a non-finite value has no direction: it becomes zeros (cosine 0
    with everything) and is counted, so the report can say how many there were.
    """
    values = np.asarray(vectors, dtype=np.float64)
    finite = np.isfinite(values).all(axis=1)
    values = np.where(finite[:, None], values, 0.0)
    norms = np.sqrt(np.einsum("ij,ij->i", values, values))
    usable = norms > 0
    scaled = np.zeros(values.shape, dtype=np.float32)
    scaled[usable] = (values[usable] / norms[usable, None]).astype(np.float32)
    return scaled, int(np.count_nonzero(~usable))


def pair_similarity(vectors: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Cosine of the unit rows ``left[i]`` and ``right[i]`` of ``vectors`` (float64).

    ``vectors`` may be memory-mapped: rows are gathered in blocks, and each similarity is a
    row-wise dot product (no BLAS), so it is the same whatever the block size or thread count.
    """
    left, right = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)
    out = np.empty(left.size, dtype=np.float64)
    for start in range(0, left.size, _BLOCK):
        stop = start + _BLOCK
        a = np.asarray(vectors[left[start:stop]], dtype=np.float64)
        b = np.asarray(vectors[right[start:stop]], dtype=np.float64)
        out[start:stop] = np.einsum("ij,ij->i", a, b)
    return np.clip(out, -1.0, 1.0)


def _blocks(n: int) -> Iterator[slice]:
    for start in range(0, n, _BLOCK):
        yield slice(start, min(start + _BLOCK, n))


def positive_references(vectors: np.ndarray, caption_codes: np.ndarray) -> np.ndarray:
    """Each cell's *positive reference*: its cosine with the centroid of the other cells of the
    split that share its caption (NaN when it is its caption's only cell).

    This is how similar the anchor is to what it should be matched with; a negative more
    similar than that is suspicious (it may be a false negative).

    The cells are visited in caption order, a block of whole captions at a time (a caption
    larger than a block in pieces, twice), so memory stays at one block of vectors whatever the
    number of captions (a caption per cell included) and the sums are the same on every run.
    """
    codes = np.asarray(caption_codes, dtype=np.int64)
    n = codes.size
    out = np.full(n, np.nan, dtype=np.float64)
    if not n:
        return out
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    bounds = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1], True])
    first = 0
    while first < bounds.size - 1:
        # whole captions up to a block, or one caption larger than a block
        last = int(np.searchsorted(bounds, bounds[first] + _BLOCK, side="right")) - 1
        last = max(last, first + 1)
        lo, hi = int(bounds[first]), int(bounds[last])
        if hi - lo <= _BLOCK:
            rows = np.asarray(vectors[order[lo:hi]], dtype=np.float64)
            starts = bounds[first:last] - lo
            sums = np.add.reduceat(rows, starts, axis=0)
            sizes = np.diff(bounds[first : last + 1])
            member_sums = np.repeat(sums, sizes, axis=0)
            member_sizes = np.repeat(sizes, sizes)
            out[order[lo:hi]] = _reference(rows, member_sums, member_sizes)
        else:
            total = np.zeros(vectors.shape[1], dtype=np.float64)
            for start in range(lo, hi, _BLOCK):
                piece = order[start : min(start + _BLOCK, hi)]
                total += np.asarray(vectors[piece], dtype=np.float64).sum(axis=0)
            for start in range(lo, hi, _BLOCK):
                positions = order[start : min(start + _BLOCK, hi)]
                rows = np.asarray(vectors[positions], dtype=np.float64)
                size = np.full(positions.size, hi - lo)
                out[positions] = _reference(rows, np.broadcast_to(total, rows.shape), size)
        first = last
    return np.clip(out, -1.0, 1.0)


def _reference(rows: np.ndarray, sums: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    others = sums - rows
    norms = np.sqrt(np.einsum("ij,ij->i", others, others))
    defined = (sizes > 1) & (norms > 1e-12)
    dots = np.einsum("ij,ij->i", rows, others)
    return np.where(defined, dots / np.where(defined, norms, 1.0), np.nan)


def add_reuse(counts: np.ndarray, negatives: np.ndarray) -> None:
    """Count in ``counts`` (one entry per cell) each use of a cell as a negative; entries < 0
    (none) are skipped. Work in the number of negatives, not of cells."""
    values = np.asarray(negatives, dtype=np.int64).ravel()
    np.add.at(counts, values[values >= 0], 1)


def histogram_quantiles(histogram: np.ndarray, quantiles=QUANTILES) -> list[float | None]:
    """Quantiles of values tallied in a :data:`BINS`-bin histogram over [-1, 1]: the centre of
    the bin where the cumulative count reaches each quantile (to 0.01; None when empty)."""
    counts = np.asarray(histogram, dtype=np.int64)
    total = int(counts.sum())
    if not total:
        return [None for _ in quantiles]
    cumulative = np.cumsum(counts)
    centres = -1.0 + (np.arange(counts.size) + 0.5) * (2.0 / counts.size)
    return [
        round(float(centres[np.searchsorted(cumulative, q * total, side="left")]), 3)
        for q in quantiles
    ]


def _histogram(values: np.ndarray) -> np.ndarray:
    bins = np.floor((np.asarray(values, dtype=np.float64) + 1.0) * (BINS / 2.0)).astype(np.int64)
    return np.bincount(np.clip(bins, 0, BINS - 1), minlength=BINS)


@dataclass
class PairTally:
    """Anchor-negative pairs (or anchor-reference values) tallied: count, similarity sum and
    histogram, and how many pairs share the batch, the caption and the annotation.

    ``annotated`` counts the pairs whose two cells both have an annotation (the denominator of
    the same-annotation fraction). Tallies add (``+``) in a fixed order.
    """

    count: int = 0
    similarity_sum: float = 0.0
    histogram: np.ndarray | None = None
    same_batch: int = 0
    same_caption: int = 0
    same_annotation: int = 0
    annotated: int = 0

    def add_values(self, similarity: np.ndarray | None) -> None:
        """Tally similarities alone (the positive references); NaN values are skipped."""
        if similarity is None:
            return
        values = np.asarray(similarity, dtype=np.float64)
        values = values[np.isfinite(values)]
        self._add_similarity(values)
        self.count += int(values.size)

    def add_pairs(
        self,
        *,
        similarity: np.ndarray | None,
        same_batch: np.ndarray,
        same_caption: np.ndarray,
        annotations: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        """Tally pairs: ``similarity`` (None without an embedding), boolean masks, and the
        annotation codes of both sides (``-1``: none)."""
        self.count += int(np.asarray(same_batch).size)
        if similarity is not None:
            self._add_similarity(np.asarray(similarity, dtype=np.float64))
        self.same_batch += int(np.count_nonzero(same_batch))
        self.same_caption += int(np.count_nonzero(same_caption))
        if annotations is not None:
            left, right = annotations
            known = (left >= 0) & (right >= 0)
            self.annotated += int(np.count_nonzero(known))
            self.same_annotation += int(np.count_nonzero(known & (left == right)))

    def _add_similarity(self, values: np.ndarray) -> None:
        self.similarity_sum += float(values.sum())
        histogram = _histogram(values)
        self.histogram = histogram if self.histogram is None else self.histogram + histogram

    def summary(self, *, has_annotation: bool) -> dict:
        """Mean, quantiles and fractions, rounded for the summary and the card."""
        n = self.count
        result: dict = {"pairs": n}
        if self.histogram is not None and int(self.histogram.sum()):
            measured = int(self.histogram.sum())
            result["mean_similarity"] = round(self.similarity_sum / measured, 4)
            result["similarity_quantiles"] = dict(
                zip(
                    (f"p{round(q * 100):02d}" for q in QUANTILES),
                    histogram_quantiles(self.histogram),
                    strict=True,
                )
            )
        return result | self.fractions(has_annotation=has_annotation)

    def fractions(self, *, has_annotation: bool) -> dict:
        n = self.count
        result = {
            "same_batch_fraction": round(self.same_batch / n, 4) if n else None,
            "same_caption_fraction": round(self.same_caption / n, 4) if n else None,
        }
        if has_annotation:
            result["same_annotation_fraction"] = (
                round(self.same_annotation / self.annotated, 4) if self.annotated else None
            )
        return result

    def histogram_list(self) -> list[int]:
        return [] if self.histogram is None else [int(v) for v in self.histogram]
