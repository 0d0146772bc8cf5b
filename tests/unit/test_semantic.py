"""``semantic_similar``: each annotation's most similar other annotation, over a whole split."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from adata_hf_datasets.core.semantic import (
    DEFAULT_SIMILARITY_KEY,
    annotation_sums,
    most_similar_other,
    similar_annotations,
    similarity_embedding,
)
from tests.support.specs import settings


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


# ---------------------------------------------------------------------- the compared embedding

EMBEDDING_CHOICES = [
    # (similarity_obsm_key, required_obsm_keys, the key compared)
    ("X_scvi", ["X_pca", "X_umap"], "X_scvi"),  # named explicitly: wins
    ("X_scvi", [], "X_scvi"),
    (None, ["X_umap", "X_pca"], "X_umap"),  # else the first required key
    ("", ["X_umap"], "X_umap"),  # an empty name counts as none
    (None, [], DEFAULT_SIMILARITY_KEY),  # else the default
    (None, (), DEFAULT_SIMILARITY_KEY),
]


@pytest.mark.parametrize(("key", "required", "expected"), EMBEDDING_CHOICES)
def test_similarity_embedding_is_the_named_key_else_the_first_required_else_x_pca(
    key, required, expected
):
    assert similarity_embedding(key, required) == expected
    assert DEFAULT_SIMILARITY_KEY == "X_pca"


@pytest.mark.parametrize(("key", "required", "expected"), EMBEDDING_CHOICES)
def test_workflow_settings_compare_the_embedding_the_python_api_compares(key, required, expected):
    resolved = settings(
        similarity_obsm_key=key,
        required_obsm_keys=list(required),
        sentence_keys=["semantic_similar"],
        annotation_key="cell_type",
    )
    assert resolved.similarity_obsm_key == similarity_embedding(key, required) == expected


# ---------------------------------------------------------------------- over a split's chunks


def reference_split_similarity(embedding: np.ndarray, annotations: np.ndarray) -> dict[str, str]:
    """The split's centroids from all its cells at once, one label at a time."""
    labels = sorted(set(annotations.tolist()))
    centroids = np.stack(
        [embedding[annotations == label].astype(np.float64).mean(axis=0) for label in labels]
    )
    return most_similar_other(centroids, labels)


@pytest.mark.parametrize("seed", range(6))
def test_similar_annotations_of_chunk_sums_equal_those_of_the_whole_split(seed):
    rng = np.random.default_rng(seed)
    n_cells, dim = int(rng.integers(30, 400)), int(rng.integers(1, 6))
    labels = np.array([f"type {i}" for i in range(int(rng.integers(2, 12)))], dtype=object)
    weights = rng.random(len(labels)) ** 3  # some labels rare
    annotations = rng.choice(labels, size=n_cells, p=weights / weights.sum())
    last = labels[-1]  # a label only the split's last cells have: absent from other chunks
    annotations[annotations == last] = labels[0]
    annotations[: len(labels) - 1] = labels[:-1]  # every label has cells
    annotations[-2:] = last
    if seed % 2:  # small integers: exact sums in any order, so exact ties survive
        embedding = rng.integers(-2, 3, size=(n_cells, dim)).astype(np.float32)
    else:
        embedding = rng.standard_normal((n_cells, dim)).astype(np.float32)
    cuts = np.sort(rng.integers(len(labels), n_cells - 2, size=int(rng.integers(1, 6))))
    bounds = [0, *cuts.tolist(), n_cells]  # chunks of random size, possibly empty
    parts = [annotation_sums(embedding[lo:hi], annotations[lo:hi]) for lo, hi in pairwise(bounds)]
    assert last not in parts[0][0]

    expected = reference_split_similarity(embedding, annotations)
    assert similar_annotations(parts) == expected
    assert similar_annotations(parts[::-1]) == expected  # the chunks' order does not matter
