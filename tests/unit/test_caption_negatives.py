"""Negatives of the pairs format: every negative brings a caption new to its row, drawn
uniformly among the cells that have one, from the anchor's batch first."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from scipy import stats

from adata_hf_datasets.core import negatives as negatives_module
from adata_hf_datasets.core.caption_negatives import sample_distinct_caption_negatives
from adata_hf_datasets.core.negatives import NegativePool, chunk_rng

from .test_negatives import random_split


def reference_candidates(
    batch: np.ndarray, caption: np.ndarray, anchor: int, chosen: list[int]
) -> tuple[np.ndarray, str]:
    """Cells the next column may draw (uniformly), and the level; none left: ``caption_none``."""
    taken = {caption[anchor], *(caption[c] for c in chosen)}
    new_caption = ~np.isin(caption, list(taken))
    same_batch = batch == batch[anchor]
    for name, mask in (
        ("caption_same_batch", new_caption & same_batch),
        ("caption_other_batch", new_caption & ~same_batch),
    ):
        if mask.any():
            return np.flatnonzero(mask), name
    return np.empty(0, dtype=np.int64), "caption_none"


def check_rows(batch, caption, anchors, negatives, counts, k) -> list[list[np.ndarray]]:
    """Every negative is a reference candidate; the counts are the levels drawn."""
    assert negatives.shape == (anchors.size, k) and negatives.dtype == np.int64
    levels: Counter = Counter()
    candidate_sets = []
    for row, anchor in enumerate(anchors):
        chosen: list[int] = []
        row_sets = []
        for column, negative in enumerate(negatives[row]):
            candidates, level = reference_candidates(batch, caption, anchor, chosen)
            levels[level] += 1
            row_sets.append(candidates)
            if level == "caption_none":
                assert negative == -1, (row, column)
                continue
            assert negative in candidates, (row, column, int(negative), candidates.tolist())
            chosen.append(int(negative))
        captions = [caption[c] for c in chosen]
        assert len(set(captions)) == len(captions) and caption[anchor] not in captions
        candidate_sets.append(row_sets)
    assert {k: v for k, v in counts.to_dict().items() if v} == dict(levels)
    return candidate_sets


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("n", [2, 3, 6, 40, 250])
def test_every_negative_brings_a_caption_new_to_its_row(seed: int, n: int) -> None:
    data_rng = np.random.default_rng([seed, n, 7])
    batch, caption = random_split(data_rng, n)
    k = int(data_rng.integers(1, 7))
    anchors = data_rng.integers(0, n, size=3 * n)
    negatives, counts = sample_distinct_caption_negatives(
        NegativePool(batch, caption), anchors, k=k, rng=chunk_rng(seed, "train", "chunk_0")
    )
    check_rows(batch, caption, anchors, negatives, counts, k)


def test_each_candidate_is_equally_likely() -> None:
    """Per column, each cell is drawn about as often as its probabilities over the rows sum to."""
    data_rng = np.random.default_rng(8)
    n = 240
    batch = data_rng.choice(4, size=n, p=[0.4, 0.3, 0.2, 0.1])
    caption = data_rng.choice(9, size=n, p=[0.3, 0.2, 0.15, 0.1, 0.1, 0.06, 0.05, 0.03, 0.01])
    anchors = np.tile(np.arange(n), 30)
    k = 5
    negatives, counts = sample_distinct_caption_negatives(
        NegativePool(batch, caption), anchors, k=k, rng=chunk_rng(2, "train", "chunk_0")
    )
    candidate_sets = check_rows(batch, caption, anchors, negatives, counts, k)
    for column in range(k):
        expected = np.zeros(n)
        for row_sets in candidate_sets:
            if row_sets[column].size:
                expected[row_sets[column]] += 1.0 / row_sets[column].size
        drawn = expected > 0
        column_values = negatives[:, column]
        observed = np.bincount(column_values[column_values >= 0], minlength=n)
        assert observed[~drawn].sum() == 0
        dof = int(drawn.sum()) - 1
        statistic = (((observed - expected) ** 2)[drawn] / expected[drawn]).sum()
        assert statistic < dof + 6 * np.sqrt(2 * dof), f"column {column + 1}: {statistic=:.1f}"


def test_a_small_split_gives_the_exact_uniform_rows() -> None:
    # anchor 0 (batch 0, caption 0): same batch has captions 1 (cells 1, 2) and 2 (cell 3);
    # then other batch only caption 3 (cells 5, 6) is new.
    batch = np.array([0, 0, 0, 0, 1, 1, 1])
    caption = np.array([0, 1, 1, 2, 1, 3, 3])
    n_draws = 30_000
    negatives, counts = sample_distinct_caption_negatives(
        NegativePool(batch, caption), np.zeros(n_draws, dtype=np.int64), k=4,
        rng=chunk_rng(4, "train", "small"),
    )  # fmt: skip
    assert counts.to_dict()["caption_none"] == n_draws  # 3 captions besides the anchor's
    first_two = Counter(map(tuple, negatives[:, :2].tolist()))
    # column 1 uniform over cells 1, 2, 3; column 2 over what is new after it
    expected = {(1, 3): 1 / 3, (2, 3): 1 / 3, (3, 1): 1 / 6, (3, 2): 1 / 6}
    assert set(first_two) == set(expected)
    rows = sorted(expected)
    result = stats.chisquare(
        [first_two[row] for row in rows], [expected[row] * n_draws for row in rows]
    )
    assert result.pvalue > 1e-6
    assert set(negatives[:, 2].tolist()) == {5, 6} and set(negatives[:, 3].tolist()) == {-1}


def test_unique_captions_per_cell_and_a_single_caption() -> None:
    n = 50
    batch = np.arange(n) % 3
    unique = np.arange(n)
    negatives, counts = sample_distinct_caption_negatives(
        NegativePool(batch, unique), np.arange(n), k=4, rng=chunk_rng(0, "t", "u")
    )
    assert counts.caption_same_batch == n * 4 and (negatives >= 0).all()
    assert (batch[negatives] == batch[:, None]).all()
    negatives, counts = sample_distinct_caption_negatives(
        NegativePool(batch, np.zeros(n, dtype=np.int64)),
        np.arange(n),
        k=2,
        rng=chunk_rng(0, "t", "o"),
    )
    assert (negatives == -1).all() and counts.caption_none == n * 2


@pytest.mark.parametrize("block", [1, 7, 1 << 15])
def test_anchor_block_size_never_changes_a_result(monkeypatch, block: int) -> None:
    data_rng = np.random.default_rng(3)
    batch, caption = random_split(data_rng, 300)
    pool = NegativePool(batch, caption)
    anchors = data_rng.integers(0, 300, size=500)
    reference = sample_distinct_caption_negatives(pool, anchors, k=3, rng=chunk_rng(1, "a", "b"))
    monkeypatch.setattr(negatives_module, "ANCHOR_BLOCK", block)
    result = sample_distinct_caption_negatives(pool, anchors, k=3, rng=chunk_rng(1, "a", "b"))
    np.testing.assert_array_equal(result[0], reference[0])
    assert result[1] == reference[1]
