"""Caption negatives with distinct captions, for the ``pairs`` format.

In ``pairs`` each negative becomes a row ``(cell, the negative's caption, 0.0)``: what a row
needs from a negative is its caption, which must differ from the anchor's (else the pair is
false) and from the other negatives' (else the row is there twice). So every one of the ``k``
columns draws a cell uniformly among the cells whose caption is new to the row: first in the
anchor's batch, then anywhere else (necessarily another batch: no new caption is left in the
anchor's); when no caption is new any more the column gets ``-1``, counted as
``caption_none`` (the row is left out).

Algorithm (sort-and-skip, as :mod:`.negatives`, with whole captions excluded)
------------------------------------------------------------------------------
The candidates of a level are one rank range of an ordering of the pool minus the blocks of
the excluded captions in it, which are disjoint rank ranges:

======================  =========  ==========================================================
level                   ordering   candidates
======================  =========  ==========================================================
new caption, same batch A          ``[bs, be)`` minus the anchor's (batch, caption) block and
                                   the block of each chosen caption in the anchor's batch
new caption, any batch  B          ``[0, N)`` minus the caption blocks of the anchor's and of
                                   each chosen caption
======================  =========  ==========================================================

A uniform draw ``r`` in ``[0, available)`` becomes a rank by walking the excluded ranges in
order of their start (``v = lo + r``; ``v += length`` for each range starting at or before
``v``). Everything is vectorised over anchors; Python loops over ``k`` columns and the at most
``k + 1`` excluded ranges, so the cost is O(k^2) per anchor whatever the number of captions.
The random stream is the one :func:`~.negatives.sample_negatives` uses (one
``rng.random((k, n))``), so it derives from the seed, split and chunk in the same way.
"""

from __future__ import annotations

import operator

import numpy as np

from ..errors import InputError
from . import negatives as _negatives_module
from .negatives import FallbackCounts, NegativePool

__all__ = ["sample_distinct_caption_negatives"]

_SAME_BATCH, _OTHER_BATCH, _NONE = 0, 1, 2


def sample_distinct_caption_negatives(
    pool: NegativePool, anchors: np.ndarray, *, k: int, rng: np.random.Generator
) -> tuple[np.ndarray, FallbackCounts]:
    """Draw ``k`` caption negatives per anchor, each with a caption new to its row.

    Parameters
    ----------
    pool
        The whole split.
    anchors
        Pool positions of the anchors.
    k
        Negatives per anchor (``negatives_per_sample``).
    rng
        Random stream, usually :func:`~.negatives.chunk_rng`; exactly one call
        ``rng.random((k, len(anchors)))`` is made.

    Returns
    -------
    negatives
        ``(len(anchors), k)`` int64 pool positions, ``-1`` where no caption new to the row was
        left.
    counts
        ``caption_same_batch``, ``caption_other_batch`` and ``caption_none`` per column drawn.
    """
    k = operator.index(k)
    if k < 0:
        raise ValueError(f"k (negatives_per_sample) must be >= 0, got {k}")
    anchors = np.asarray(anchors, dtype=np.int64)
    if anchors.size and (anchors.min() < 0 or anchors.max() >= pool.n):
        raise ValueError(f"anchors must be pool positions in [0, {pool.n})")
    n_anchors = anchors.size
    if k and pool.n < 2:
        raise InputError(
            f"negatives need at least 2 samples in the split, the pool has {pool.n}; add "
            "samples to the split"
        )
    uniforms = rng.random((k, n_anchors))
    negatives = np.full((n_anchors, k), -1, dtype=np.int64)
    levels = np.zeros(3, dtype=np.int64)
    if k == 0 or n_anchors == 0:
        return negatives, FallbackCounts()
    # Ordering A's sort key (batch, caption) as one integer: where a caption sits in a batch.
    n_codes = int(pool.caption_codes.max()) + 1
    key_a = pool.batch_codes[pool.order_a] * n_codes + pool.caption_codes[pool.order_a]
    block = _negatives_module.ANCHOR_BLOCK
    for start in range(0, n_anchors, block):
        stop = min(start + block, n_anchors)
        levels += _sample_block(
            pool,
            key_a,
            n_codes,
            anchors[start:stop],
            uniforms[:, start:stop],
            negatives[start:stop],
        )
    counts = FallbackCounts(
        caption_same_batch=levels[_SAME_BATCH],
        caption_other_batch=levels[_OTHER_BATCH],
        caption_none=levels[_NONE],
    )
    return negatives, counts


def _walk(lo: np.ndarray, draw: np.ndarray, starts: list, lengths: list) -> np.ndarray:
    """The rank of the ``draw``-th candidate of ``[lo, ...)`` minus the excluded ranges."""
    starts_sorted = np.stack(starts)
    order = np.argsort(starts_sorted, axis=0, kind="stable")
    starts_sorted = np.take_along_axis(starts_sorted, order, axis=0)
    lengths_sorted = np.take_along_axis(np.stack(lengths), order, axis=0)
    rank = lo + draw
    for range_start, length in zip(starts_sorted, lengths_sorted, strict=True):
        rank += length * (rank >= range_start)
    return rank


def _sample_block(
    pool: NegativePool,
    key_a: np.ndarray,
    n_codes: int,
    anchors: np.ndarray,
    uniforms: np.ndarray,
    negatives: np.ndarray,
) -> np.ndarray:
    """Fill ``negatives`` (``(n, k)``, -1 already) for ``anchors``; return counts per level."""
    k = negatives.shape[1]
    rank_a = pool.rank_a[anchors].astype(np.int64)
    rank_b = pool.rank_b[anchors].astype(np.int64)
    batch_start = pool.batch_start[rank_a].astype(np.int64)
    batch_end = pool.batch_end[rank_a].astype(np.int64)
    anchor_batch = pool.batch_codes[anchors]
    # Excluded ranges: in A within the anchor's batch, in B over the whole pool.
    group_start = pool.group_start[rank_a].astype(np.int64)
    excluded_a = ([group_start], [pool.group_end[rank_a] - group_start])
    caption_start = pool.caption_start[rank_b].astype(np.int64)
    excluded_b = ([caption_start], [pool.caption_end[rank_b] - caption_start])
    zero = np.zeros(anchors.size, dtype=np.int64)
    levels = np.zeros(3, dtype=np.int64)
    for column in range(k):
        available_a = (batch_end - batch_start) - np.sum(excluded_a[1], axis=0)
        available_b = pool.n - np.sum(excluded_b[1], axis=0)
        level = np.where(
            available_a > 0, _SAME_BATCH, np.where(available_b > 0, _OTHER_BATCH, _NONE)
        )
        levels += np.bincount(level, minlength=3)
        available = np.where(level == _SAME_BATCH, available_a, available_b)
        draw = np.minimum(
            (uniforms[column] * available).astype(np.int64), np.maximum(available - 1, 0)
        )
        same = level == _SAME_BATCH
        rank_in_a = _walk(batch_start, draw, *excluded_a)
        rank_in_b = _walk(zero, draw, *excluded_b)
        position = np.where(
            same,
            pool.order_a[np.where(same, rank_in_a, 0)],
            pool.order_b[np.where(level == _OTHER_BATCH, rank_in_b, 0)],
        ).astype(np.int64)
        found = level != _NONE
        negatives[:, column] = np.where(found, position, -1)
        # The chosen caption is excluded from here on, in A (its block in the anchor's batch,
        # possibly empty) and in B (its whole caption block).
        caption = pool.caption_codes[position]
        key = anchor_batch * n_codes + caption
        lo = np.searchsorted(key_a, key, side="left")
        hi = np.searchsorted(key_a, key, side="right")
        excluded_a[0].append(lo)
        excluded_a[1].append(np.where(found, hi - lo, 0))
        chosen_rank_b = pool.rank_b[position]
        lo_b = pool.caption_start[chosen_rank_b].astype(np.int64)
        excluded_b[0].append(lo_b)
        excluded_b[1].append(np.where(found, pool.caption_end[chosen_rank_b] - lo_b, 0))
    return levels
