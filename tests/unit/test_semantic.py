"""``semantic_similar``: each annotation's most similar other annotation, over a whole split."""

from __future__ import annotations

import numpy as np
import pytest

from adata_hf_datasets.core.semantic import (
    most_similar_other,
)


def test_most_similar_other():
    centroids = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0]])
    labels = ["T", "T-like", "B", "anti-T"]
    result = most_similar_other(centroids, labels)
    assert result == {"T": "T-like", "T-like": "T", "B": "T-like", "anti-T": "B"}
    # Scale does not matter (cosine), and no label maps to itself.
    assert most_similar_other(centroids * 7.5, labels) == result


def test_most_similar_other_ties_go_to_the_label_that_sorts_first():
    centroids = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 2.0], [0.0, 1.0]])
    labels = ["a", "z", "m", "c"]
    result = most_similar_other(centroids, labels)
    # "a" is equally similar (0) to z, m and c: c sorts first. z, m, c are parallel.
    assert result == {"a": "c", "z": "c", "m": "c", "c": "m"}


def test_most_similar_other_zero_norm_rows():
    centroids = np.array([[0.0, 0.0], [1.0, 0.0], [-1.0, 0.0]])
    labels = ["zero", "pos", "neg"]
    with np.errstate(all="raise"):
        result = most_similar_other(centroids, labels)
    # zero: similarity 0 to both -> "neg" sorts first; pos/neg: each other -1, zero 0 -> zero.
    assert result == {"zero": "neg", "pos": "zero", "neg": "zero"}
    result_pos = most_similar_other(np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 0.0]]), labels)
    assert result_pos["pos"] == "neg"


def test_most_similar_other_needs_two_labels():
    with pytest.raises(ValueError, match="semantic_similar needs at least two annotation values"):
        most_similar_other(np.ones((1, 3)), ["only"])


def test_most_similar_other_rejects_nan_centroids():
    with pytest.raises(ValueError, match="'b'"):
        most_similar_other(np.array([[1.0, 0.0], [np.nan, 1.0]]), ["a", "b"])
