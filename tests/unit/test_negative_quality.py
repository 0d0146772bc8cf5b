"""The negative-quality tallies: what they say equals a direct computation, and they do not
depend on how the anchors are cut into blocks."""

from __future__ import annotations

import numpy as np
import pytest

from adata_hf_datasets.core import negative_quality as nq
from adata_hf_datasets.core.negative_quality import (
    PairTally,
    pair_similarity,
    positive_references,
    unit_rows,
)


def _vectors(n: int, d: int = 6, seed: int = 0) -> np.ndarray:
    units, _ = unit_rows(np.random.default_rng(seed).normal(size=(n, d)))
    return units


def test_rows_without_direction_are_counted_and_give_zero_similarity():
    raw = np.array([[3.0, 4.0], [0.0, 0.0], [np.nan, 1.0], [1.0, 0.0]])
    units, bad = unit_rows(raw)
    assert bad == 2
    assert np.allclose(units[0], [0.6, 0.8]) and not units[1:3].any()
    assert pair_similarity(units, np.array([0, 1]), np.array([3, 3])).tolist() == pytest.approx(
        [0.6, 0.0]
    )


@pytest.mark.parametrize("block", [65536, 50, 3])  # whole captions at a time, or in pieces
def test_positive_reference_is_the_cosine_with_the_centroid_of_the_other_cells_of_the_caption(
    monkeypatch, block
):
    monkeypatch.setattr(nq, "_BLOCK", block)
    vectors = _vectors(300)
    captions = np.random.default_rng(1).integers(0, 7, 300)
    captions[0] = 7  # alone with its caption: no reference
    captions[1:40] = 100 + np.arange(39)  # a caption per cell: none either
    got = positive_references(vectors, captions)
    assert np.isnan(got[:40]).all()
    assert np.isnan(got[0])
    for cell in range(40, 300):
        others = vectors[(captions == captions[cell]) & (np.arange(300) != cell)].astype(np.float64)
        centroid = others.mean(axis=0)
        expected = vectors[cell] @ centroid / np.linalg.norm(centroid)
        assert got[cell] == pytest.approx(expected, abs=1e-9)


def test_tallies_are_the_same_whatever_the_blocks(monkeypatch):
    vectors = _vectors(5000, seed=2)
    rng = np.random.default_rng(3)
    left, right = rng.integers(0, 5000, 20000), rng.integers(0, 5000, 20000)
    batch, caption = rng.integers(0, 3, 5000), rng.integers(0, 9, 5000)
    annotation = rng.integers(-1, 4, 5000)

    def tally(parts: int) -> PairTally:
        total = PairTally()
        for lo, hi in zip(
            np.linspace(0, 20000, parts + 1, dtype=int)[:-1],
            np.linspace(0, 20000, parts + 1, dtype=int)[1:],
            strict=True,
        ):
            a, b = left[lo:hi], right[lo:hi]
            total.add_pairs(
                similarity=pair_similarity(vectors, a, b),
                same_batch=batch[a] == batch[b],
                same_caption=caption[a] == caption[b],
                annotations=(annotation[a], annotation[b]),
            )
        return total

    whole = tally(1)
    monkeypatch.setattr(nq, "_BLOCK", 999)  # gather blocks inside pair_similarity
    cut = tally(7)
    assert whole.histogram.tolist() == cut.histogram.tolist()
    summary = whole.summary(has_annotation=True)
    assert summary == cut.summary(has_annotation=True)
    similarity = pair_similarity(vectors, left, right)
    assert summary["mean_similarity"] == pytest.approx(similarity.mean(), abs=1e-4)
    for name, q in (("p05", 0.05), ("p50", 0.5), ("p95", 0.95)):
        assert abs(summary["similarity_quantiles"][name] - np.quantile(similarity, q)) <= 0.01
    known = (annotation[left] >= 0) & (annotation[right] >= 0)
    expected = np.mean(annotation[left][known] == annotation[right][known])
    assert summary["same_annotation_fraction"] == pytest.approx(expected, abs=1e-4)
    assert summary["same_batch_fraction"] == pytest.approx(
        np.mean(batch[left] == batch[right]), abs=1e-4
    )
