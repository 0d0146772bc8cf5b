"""Mined caption negatives: the window is exactly brute-force search's, whatever the index's
clustering or the anchor blocks; the picks obey every rule of DESIGN.md section 4b."""

from __future__ import annotations

import numpy as np
import pytest

from adata_hf_datasets.core import hard_negatives as hn
from adata_hf_datasets.core.hard_negatives import (
    MiningSettings,
    build_mining_index,
    mine_caption_negatives,
    ranked_eligible,
)
from adata_hf_datasets.core.negative_quality import positive_references, unit_rows
from adata_hf_datasets.core.negatives import NegativePool, chunk_rng, sample_negatives


def clustered(n: int, *, d: int = 12, captions: int = 9, batches: int = 3, seed: int = 0):
    """Cells around caption centres, shifted by batch; annotations group captions by three."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(captions, d))
    shifts = rng.normal(scale=0.4, size=(batches, d))
    caption = rng.integers(0, captions, n)
    batch = rng.integers(0, batches, n)
    vectors, _ = unit_rows(centres[caption] + shifts[batch] + rng.normal(scale=0.6, size=(n, d)))
    annotation = caption // 3
    reference = positive_references(vectors, caption)
    return vectors, caption, batch, annotation, reference


def brute_force(vectors, anchor, caption, batch, annotation, reference, settings, same_batch):
    scores = vectors.astype(np.float64) @ vectors[anchor].astype(np.float64)
    ok = caption != caption[anchor]
    ok &= (batch == batch[anchor]) if same_batch else (batch != batch[anchor])
    if settings.exclude_same_annotation:
        ok &= annotation != annotation[anchor]
    if settings.relative_margin is not None and reference[anchor] > 0:
        ok &= scores <= (1 - settings.relative_margin) * reference[anchor]
    eligible = np.flatnonzero(ok)
    return eligible[np.lexsort((eligible, -scores[eligible]))][: settings.range_max]


@pytest.mark.parametrize("n_lists", [1, 7, 40])
@pytest.mark.parametrize(
    "settings, same_batch",
    [
        (MiningSettings(range_max=20), True),
        (MiningSettings(range_max=20), False),
        (MiningSettings(range_max=5, relative_margin=None, exclude_same_annotation=False), True),
        (MiningSettings(range_max=30, relative_margin=0.3), True),
    ],
)
def test_the_ranked_eligible_cells_are_exactly_brute_force_search(n_lists, settings, same_batch):
    vectors, caption, batch, annotation, reference = clustered(3000)
    # with caption codes the lists are split by caption (the anchor's own are skipped)
    index = build_mining_index(
        vectors, batch, seed=5, n_lists=n_lists, caption_codes=caption if n_lists > 1 else None
    )
    anchors = np.arange(0, 3000, 7)
    positions, similarities = ranked_eligible(
        index,
        anchors,
        captions=caption,
        batches=batch,
        annotations=annotation,
        references=reference.astype(np.float64),
        settings=settings,
        same_batch=same_batch,
    )
    for row, anchor in enumerate(anchors):
        expected = brute_force(
            vectors, anchor, caption, batch, annotation, reference, settings, same_batch
        )
        found = positions[row][positions[row] >= 0]
        assert found.tolist() == expected.tolist(), (row, anchor)
        assert np.all(np.diff(similarities[row][: found.size]) <= 0)


WINDOW_10 = MiningSettings(range_max=10)


def _mine(n_lists, *, anchors=None, settings=WINDOW_10, k=4, seed=3, n=2000, by_caption=True):
    vectors, caption, batch, annotation, reference = clustered(n, seed=seed)
    pool = NegativePool(batch, caption)
    anchors = np.arange(0, n, 3) if anchors is None else anchors
    random, _ = sample_negatives(pool, anchors, k=k, rng=chunk_rng(42, "train", "chunk_0"))
    index = build_mining_index(
        vectors, batch, seed=1, n_lists=n_lists, caption_codes=caption if by_caption else None
    )
    mined, levels = mine_caption_negatives(
        index,
        anchors,
        random,
        [j for j in range(k) if j % 2 == 0],
        captions=caption,
        batches=batch,
        annotations=annotation,
        references=reference,
        settings=settings,
        rng=chunk_rng(42, "train", "chunk_0/hard-negatives"),
    )
    return mined, levels, random, anchors, (vectors, caption, batch, annotation, reference)


def test_mined_negatives_do_not_depend_on_the_clustering_or_the_anchor_blocks(monkeypatch):
    one_list, levels_one, *_ = _mine(1, by_caption=False)
    many_lists, levels_many, *_ = _mine(23)
    monkeypatch.setattr(hn, "_ANCHOR_BLOCK", 97)
    monkeypatch.setattr(hn, "_LISTS_PER_ROUND", 3)
    small_blocks, levels_small, *_ = _mine(23)
    assert one_list.tolist() == many_lists.tolist() == small_blocks.tolist()
    assert levels_one.tolist() == levels_many.tolist() == levels_small.tolist()


def test_every_mined_negative_is_eligible_distinct_and_in_the_window():
    settings = MiningSettings(range_min=2, range_max=12)
    mined, levels, random, anchors, cells = _mine(9, settings=settings)
    vectors, caption, batch, annotation, reference = cells
    assert (levels[:, [1, 3]] == 0).all()  # sentence columns stay random
    assert mined[:, [1, 3]].tolist() == random[:, [1, 3]].tolist()
    assert (levels[:, [0, 2]] > 0).mean() > 0.95
    for row, anchor in enumerate(anchors):
        assert len(set(mined[row].tolist()) | {anchor}) == 5  # distinct, never the anchor
        for column in (0, 2):
            negative = mined[row, column]
            if levels[row, column] == 0:
                assert negative == random[row, column]
                continue
            same_batch = levels[row, column] == 1
            window = brute_force(
                vectors, anchor, caption, batch, annotation, reference, settings, same_batch
            )[settings.range_min :]
            assert negative in window
            assert caption[negative] != caption[anchor]
            assert annotation[negative] != annotation[anchor]
        # distinct captions are preferred within the row: the second caption negative repeats
        # the first one's caption only when its window has no free cell of another caption
        if levels[row, 2] == 1:
            first, second = mined[row, 0], mined[row, 2]
            window = brute_force(
                vectors, anchor, caption, batch, annotation, reference, settings, True
            )[settings.range_min :]
            others = [c for c in window if c not in mined[row] and caption[c] != caption[first]]
            if others:
                assert caption[second] != caption[first]


def test_top_sampling_takes_the_first_free_cell_of_the_window():
    settings = MiningSettings(range_min=1, range_max=8, sampling="top")
    mined, levels, random, anchors, cells = _mine(5, settings=settings, k=2)
    vectors, caption, batch, annotation, reference = cells
    for row, anchor in enumerate(anchors):
        if levels[row, 0] != 1:
            continue
        window = brute_force(
            vectors, anchor, caption, batch, annotation, reference, settings, True
        )[1:]
        free = [c for c in window if c != random[row, 1]]
        assert mined[row, 0] == free[0]


def test_an_anchor_alone_in_its_batch_is_mined_from_another_batch():
    vectors, caption, batch, annotation, reference = clustered(600, seed=4)
    batch = batch.copy()
    batch[0] = 99  # a batch of one cell
    pool = NegativePool(batch, caption)
    anchors = np.array([0, 1, 2])
    random, _ = sample_negatives(pool, anchors, k=2, rng=chunk_rng(1, "s", "c"))
    index = build_mining_index(vectors, batch, seed=1, n_lists=4)
    mined, levels = mine_caption_negatives(
        index,
        anchors,
        random,
        [0],
        captions=caption,
        batches=batch,
        annotations=annotation,
        references=reference,
        settings=MiningSettings(range_max=5),
        rng=chunk_rng(1, "s", "c/hard-negatives"),
    )
    assert levels[0, 0] == 2 and batch[mined[0, 0]] != 99
    assert (levels[1:, 0] == 1).all()


@pytest.mark.parametrize(
    "values, message",
    [
        ({"range_min": 5, "range_max": 5}, "range_min < range_max"),
        ({"relative_margin": 1.0}, "relative_margin"),
        ({"sampling": "nearest"}, "sampling"),
    ],
)
def test_bad_mining_settings_are_refused(values, message):
    with pytest.raises(ValueError, match=message):
        MiningSettings(**values)


def _hand_made(vectors, captions, batches=None):
    vectors, _ = unit_rows(np.asarray(vectors, dtype=np.float64))
    n = vectors.shape[0]
    batches = np.zeros(n, dtype=np.int64) if batches is None else np.asarray(batches)
    return vectors, np.asarray(captions), batches


def _ranked(vectors, captions, batches, anchors, **settings):
    index = build_mining_index(vectors, batches, seed=0, n_lists=2)
    positions, _ = ranked_eligible(
        index,
        np.asarray(anchors),
        captions=captions,
        batches=batches,
        annotations=None,
        references=None,
        settings=MiningSettings(exclude_same_annotation=False, relative_margin=None, **settings),
        same_batch=True,
    )
    return positions


def test_ties_are_broken_by_pool_position_and_short_windows_are_padded():
    # cells 1, 2 and 4 are the same vector: equally similar to the anchor 0
    vectors, captions, batches = _hand_made(
        [[1, 0], [1, 1], [1, 1], [1, 0.1], [1, 1], [0, 1], [-1, 0]], [0, 1, 1, 1, 1, 0, 1]
    )
    positions = _ranked(vectors, captions, batches, [0], range_max=6)
    # eligible: another caption (1): cells 1-4 and 6, by similarity, ties by position
    assert positions[0].tolist() == [3, 1, 2, 4, 6, -1]


def test_unique_captions_make_every_other_cell_eligible():
    vectors, captions, batches = _hand_made(
        [[1, 0], [0.9, 0.1], [0, 1], [-1, 0], [0.5, 0.5]], [0, 1, 2, 3, 4]
    )
    assert _ranked(vectors, captions, batches, [0], range_max=3)[0].tolist() == [1, 4, 2]


def test_a_caption_shared_by_every_cell_leaves_the_random_negatives():
    vectors, captions, batches = _hand_made([[1, 0], [0.9, 0.1], [0, 1], [-1, 0]], [7, 7, 7, 7])
    pool = NegativePool(batches, captions)
    anchors = np.arange(4)
    random, _ = sample_negatives(pool, anchors, k=2, rng=chunk_rng(1, "s", "c"))
    mined, levels = mine_caption_negatives(
        build_mining_index(vectors, batches, seed=0),
        anchors,
        random,
        [0],
        captions=captions,
        batches=batches,
        annotations=None,
        references=None,
        settings=MiningSettings(),
        rng=chunk_rng(1, "s", "c/hard-negatives"),
    )
    assert not levels.any() and mined.tolist() == random.tolist()
