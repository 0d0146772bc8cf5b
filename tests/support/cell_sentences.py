"""Obviously correct cell sentences, for the ranking and spelling tests to compare with."""

from __future__ import annotations

import numpy as np

__all__ = ["as_lists", "gene_names", "reference_sentences", "reference_top_genes"]


def reference_top_genes(
    dense: np.ndarray, cs_length: int, gene_mask: np.ndarray | None = None
) -> list[list[int]]:
    """Obviously correct: per cell, nonzero unmasked genes sorted by (-value, position)."""
    result = []
    for row in dense:
        candidates = [
            j for j in range(row.shape[0]) if row[j] != 0 and (gene_mask is None or gene_mask[j])
        ]
        # .item() gives exact Python ints/floats (no int64 -> float64 rounding).
        candidates.sort(key=lambda j: (-row[j].item(), j))
        result.append(candidates[:cs_length])
    return result


def reference_sentences(dense, names, cs_length, gene_mask=None) -> list[str]:
    return [
        " ".join(names[j] for j in genes)
        for genes in reference_top_genes(dense, cs_length, gene_mask)
    ]


def as_lists(indptr: np.ndarray, positions: np.ndarray) -> list[list[int]]:
    return [positions[indptr[i] : indptr[i + 1]].tolist() for i in range(indptr.shape[0] - 1)]


def gene_names(n: int) -> np.ndarray:
    return np.array([f"G{i}" for i in range(n)], dtype=object)
