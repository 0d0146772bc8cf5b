"""``semantic_similar``: each annotation's most similar other annotation, over a whole split.

The similarity is the cosine of annotation centroids in one obsm embedding. Centroids are built
from per-chunk sums (:func:`annotation_sums`, computed when a chunk is validated) added over the
split's chunks (:func:`similar_annotations`), so every chunk of the split agrees.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import InputError

__all__ = [
    "DEFAULT_SIMILARITY_KEY",
    "annotation_sums",
    "most_similar_other",
    "similar_annotations",
    "similarity_embedding",
]

_MAX_LISTED_OFFENDERS = 5

DEFAULT_SIMILARITY_KEY = "X_pca"
"""The embedding compared when neither ``similarity_obsm_key`` nor ``required_obsm_keys`` names one."""


def similarity_embedding(
    similarity_obsm_key: str | None, required_obsm_keys: Sequence[str] = ()
) -> str:
    """The obsm key ``semantic_similar`` compares annotations in: ``similarity_obsm_key``, else
    the first of ``required_obsm_keys``, else ``X_pca``. The workflow and the Python API both
    use this rule, so they give the same sentences."""
    if similarity_obsm_key:
        return similarity_obsm_key
    return required_obsm_keys[0] if required_obsm_keys else DEFAULT_SIMILARITY_KEY


def annotation_sums(
    embedding: np.ndarray, annotations: np.ndarray
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Per annotation value: ``(labels, sums of its cells' vectors, cell counts)``."""
    labels, inverse = np.unique(np.asarray(annotations).astype(str), return_inverse=True)
    sums = np.zeros((len(labels), embedding.shape[1]), dtype=np.float64)
    np.add.at(sums, inverse, np.asarray(embedding).astype(np.float64))
    counts = np.bincount(inverse, minlength=len(labels))
    return labels.tolist(), sums, counts


def similar_annotations(
    parts: Sequence[tuple[Sequence[str], np.ndarray, np.ndarray]],
) -> dict[str, str]:
    """Most similar other annotation of each annotation, from per-chunk
    :func:`annotation_sums` (added over the chunks, so the centroids are the split's)."""
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    for labels, part_sums, part_counts in parts:
        for label, vector, count in zip(labels, part_sums, part_counts, strict=True):
            vector = np.asarray(vector, dtype=np.float64)
            sums[label] = sums[label] + vector if label in sums else vector
            counts[label] = counts.get(label, 0) + int(count)
    labels = sorted(sums)
    centroids = np.stack([sums[label] / counts[label] for label in labels]) if labels else None
    return most_similar_other(centroids, labels)


def most_similar_other(centroids: np.ndarray, labels: Sequence[str]) -> dict[str, str]:
    """Map each label to the other label whose centroid is most cosine-similar.

    Parameters
    ----------
    centroids
        ``(n_labels, dim)`` centroid per label (row i belongs to ``labels[i]``), computed over
        the whole split so every chunk agrees.
    labels
        Distinct annotation values.

    Returns
    -------
    dict
        label -> most similar other label. Ties go to the label that sorts first; a zero
        centroid has similarity 0 to everything.

    Raises
    ------
    InputError
        With fewer than two labels, duplicate labels, a shape mismatch or non-finite centroids.
    """
    labels = [str(label) for label in labels]
    centroids = np.asarray(centroids if centroids is not None else [], dtype=np.float64)
    if len(labels) < 2:
        message = (
            f"semantic_similar needs at least two annotation values in the split, got "
            f"{len(labels)} ({labels!r}); use an annotation_key with several values, or remove "
            f"semantic_similar from sentence_keys."
        )
        raise InputError(message)
    if centroids.ndim != 2 or centroids.shape[0] != len(labels):
        message = (
            f"most_similar_other: centroids have shape {centroids.shape} but there are "
            f"{len(labels)} labels; pass one centroid row per label."
        )
        raise ValueError(message)
    if len(set(labels)) != len(labels):
        message = "most_similar_other: labels must be distinct; pass each annotation value once."
        raise ValueError(message)
    not_finite = ~np.isfinite(centroids).all(axis=1)
    if not_finite.any():
        offenders = [labels[i] for i in np.flatnonzero(not_finite)[:_MAX_LISTED_OFFENDERS]]
        message = (
            f"most_similar_other: centroid(s) of {offenders!r} contain NaN/inf (a label without "
            f"cells, or NaN in the embedding); fix the embedding or the label list."
        )
        raise InputError(message)

    # Columns in label sort order, so argmax's first maximum is the label that sorts first.
    sort_order = np.argsort(np.array(labels, dtype=object), kind="stable")
    norms = np.linalg.norm(centroids, axis=1)
    unit = np.divide(
        centroids, norms[:, None], out=np.zeros_like(centroids), where=norms[:, None] > 0
    )
    similarity = unit @ unit[sort_order].T
    similarity[np.arange(len(labels)), np.argsort(sort_order)] = -np.inf  # not itself
    best = sort_order[np.argmax(similarity, axis=1)]
    return {label: labels[j] for label, j in zip(labels, best, strict=True)}
