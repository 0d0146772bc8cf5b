"""Negative sampling for contrastive cell-text datasets (DESIGN.md section 4).

Every anchor gets ``k`` negatives. Column ``i`` (1-based) odd is a *caption negative*: a
different sample whose caption differs from the anchor's, preferably from the same batch,
else from another batch, else (no such sample left) a sentence negative. Column ``i`` even
is a *sentence negative*: any different sample, preferably from the same batch. Within a
row no negative is the anchor and no negative repeats while the pool allows it.

Algorithm (sort-and-skip, exact, no rejection sampling)
-------------------------------------------------------
The pool is sorted twice: ordering A by ``(batch, caption, position)`` and ordering B by
``(caption, position)``. For an anchor, every candidate level is at most two contiguous
rank ranges of one ordering:

=======================  =========  =================================
level                    ordering   ranges
=======================  =========  =================================
caption, same batch      A          ``[bs, cs) + [ce, be)``
caption, other batch     B          ``[0, Cs) + [Ce, N)``
sentence, same batch     A          ``[bs, be)``
sentence, other batch    A          ``[0, bs) + [be, N)``
=======================  =========  =================================

with ``[bs, be)`` the anchor's batch block and ``[cs, ce)`` its (batch, caption) block in
A, and ``[Cs, Ce)`` its caption block in B. "Caption, other batch" is the B-space "any
batch, different caption"; it is only used once every same-batch different-caption sample
is already in the row, so after excluding the row it is exactly "other batch".

A level's *available* count is its size minus the excluded items (anchor and negatives
chosen so far) inside it; running counters give it in O(1) per anchor. A uniform draw
``r`` in ``[0, available)`` is moved past the excluded items (``r += 1`` for each excluded
virtual index ``<= r``, solved as a fixed point) and mapped back to a pool position
through the ordering. Everything is vectorised over anchors; Python only loops over the
``k`` columns and the ``<= k`` excluded items, so the cost is O(k^2) per anchor and does
not depend on the number of captions or batches.
"""

from __future__ import annotations

import hashlib
import json
import operator
from dataclasses import dataclass, fields

import numpy as np

from ..errors import InputError
from .formats import is_caption_negative

__all__ = ["ANCHOR_BLOCK", "FallbackCounts", "NegativePool", "chunk_rng", "sample_negatives"]

# Candidate levels, most preferred first; the integer codes index FallbackCounts columns.
_CAPTION_SAME_BATCH = 0
_CAPTION_OTHER_BATCH = 1
_SENTENCE_SAME_BATCH = 2
_SENTENCE_OTHER_BATCH = 3
_REPEAT = 4
_N_LEVELS = 5

# Domain tag of the chunk stream; changing it (or the payload layout) changes every dataset.
_RNG_PERSONALIZATION = b"ahd-negatives-v1"
# Anchors sampled at a time: the temporaries of a block (a few dozen int32 vectors) stay
# in cache; measured fastest between 4,096 and whole-array blocks.
ANCHOR_BLOCK = 32768


@dataclass(frozen=True)
class FallbackCounts:
    """How many negatives were drawn at each level; additive across chunks.

    Every negative of every row is counted exactly once, so the fields sum to
    ``n_anchors * k``.

    Attributes
    ----------
    caption_same_batch
        Caption negatives from the anchor's batch (preferred level).
    caption_other_batch
        Caption negatives found only in another batch (fallback).
    caption_as_sentence
        Caption columns where no different-caption sample was available (none in the
        split, or all already in the row), filled with a sentence negative (fallback).
    sentence_same_batch
        Sentence negatives from the anchor's batch (preferred level).
    sentence_other_batch
        Sentence negatives from another batch (fallback).
    repeated
        Pool too small for distinct negatives: the negative repeats one already in the
        row (never the anchor).
    caption_none
        Caption columns left without a negative because no caption new to the row was left
        (``pairs``, where each negative must bring a caption of its own; that row is left out).
    mined_same_batch
        Caption negatives mined from the anchor's batch (``hard_negatives``; preferred level).
    mined_other_batch
        Caption negatives mined from another batch (the anchor's batch had no free cell in the
        window; fallback). A caption column that no level could mine keeps its random negative,
        counted at its random level above.
    """

    caption_same_batch: int = 0
    caption_other_batch: int = 0
    caption_as_sentence: int = 0
    sentence_same_batch: int = 0
    sentence_other_batch: int = 0
    repeated: int = 0
    caption_none: int = 0
    mined_same_batch: int = 0
    mined_other_batch: int = 0

    def __post_init__(self) -> None:
        # Coerce numpy integers to int so to_dict() is JSON-serialisable as is.
        for field in fields(self):
            value = operator.index(getattr(self, field.name))
            if value < 0:
                raise ValueError(f"FallbackCounts.{field.name} must be >= 0, got {value}")
            object.__setattr__(self, field.name, int(value))

    def __add__(self, other: FallbackCounts) -> FallbackCounts:
        if not isinstance(other, FallbackCounts):
            return NotImplemented
        return FallbackCounts(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )

    def __sub__(self, other: FallbackCounts) -> FallbackCounts:
        if not isinstance(other, FallbackCounts):
            return NotImplemented
        return FallbackCounts(
            **{f.name: getattr(self, f.name) - getattr(other, f.name) for f in fields(self)}
        )

    def __radd__(self, other: object) -> FallbackCounts:
        # Lets the builtin sum() start from its default 0.
        if isinstance(other, int) and not isinstance(other, bool) and other == 0:
            return self
        return NotImplemented

    def merge(self, *others: FallbackCounts) -> FallbackCounts:
        """Return the sum of these counts and ``others``.

        Works bound (``a.merge(b, c)``) and unbound (``FallbackCounts.merge(*per_chunk)``).
        """
        total = self
        for other in others:
            total = total + other
        return total

    @property
    def total(self) -> int:
        """Number of negatives counted (``n_anchors * k``)."""
        return sum(getattr(self, f.name) for f in fields(self))

    def to_dict(self) -> dict[str, int]:
        """Return the counts by field name, in field order (the mined levels only when a
        negative was mined, so a dataset without mining records what it always did)."""
        counts = {f.name: getattr(self, f.name) for f in fields(self)}
        if not (self.mined_same_batch or self.mined_other_batch):
            del counts["mined_same_batch"], counts["mined_other_batch"]
        return counts

    @classmethod
    def from_dict(cls, data: dict[str, int]) -> FallbackCounts:
        """Inverse of :meth:`to_dict`; unknown or missing keys are an error (the mined levels
        may be missing: files written before mining existed)."""
        expected = {f.name for f in fields(cls)}
        optional = {"mined_same_batch", "mined_other_batch"}
        if not expected - optional <= set(data) <= expected:
            raise ValueError(
                f"FallbackCounts.from_dict: expected keys {sorted(expected)}, got {sorted(data)}"
            )
        return cls(**data)


def _int_vector(
    values: np.ndarray, name: str, *, what: str, below: int | None = None
) -> np.ndarray:
    """``values`` as a 1-D int64 array of integers >= 0 (and < ``below`` when given)."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{name} must hold {what}, got dtype {array.dtype}")
    array = array.astype(np.int64, copy=False)
    if array.size and (array.min() < 0 or (below is not None and array.max() >= below)):
        bound = f"in [0, {below})" if below is not None else ">= 0 (the caller leaves out missing)"
        raise ValueError(f"{name} must be {what} {bound}")
    return array


def _sort_order(keys: list[np.ndarray], n: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Positions sorted by ``keys`` (most significant first, ties by position), and the keys
    in that order.

    Packs keys and position into one 63-bit integer when they fit, because ``np.sort`` on
    int64 is several times faster than ``np.lexsort``/stable ``argsort`` and the sorted keys
    then come out of the packed bits without a random gather; both paths give the same
    (total) order, so the choice never changes a result.
    """
    position_bits = max(n - 1, 0).bit_length()
    key_bits = [int(key.max()).bit_length() if n else 0 for key in keys]
    if position_bits + sum(key_bits) > 63:
        order = np.lexsort([np.arange(n, dtype=np.int64), *reversed(keys)])
        return order, [key[order] for key in keys]
    packed = np.arange(n, dtype=np.int64)
    shifts = []
    shift = position_bits
    for key, bits in zip(reversed(keys), reversed(key_bits), strict=True):
        packed |= key << shift
        shifts.append(shift)
        shift += bits
    packed.sort()
    sorted_keys = [
        (packed >> key_shift) & ((1 << bits) - 1)
        for key_shift, bits in zip(reversed(shifts), key_bits, strict=True)
    ]
    return packed & ((1 << position_bits) - 1), sorted_keys


def _block_bounds(starts_block: np.ndarray, dtype: type[np.integer]) -> tuple[np.ndarray, ...]:
    """Per rank, the ``[start, end)`` ranks of its block; ``starts_block[r]`` marks a new block."""
    starts = np.flatnonzero(starts_block).astype(dtype)
    ends = np.append(starts[1:], dtype(starts_block.size))[: starts.size]  # empty pool: no block
    lengths = ends - starts
    return np.repeat(starts, lengths), np.repeat(ends, lengths)


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


class NegativePool:
    """The whole split as seen by negative sampling.

    One entry per sample that may be an anchor or a negative; rows with a missing caption
    are excluded by the caller. Positions into the pool are ``0 .. n - 1`` in input order.

    Parameters
    ----------
    batch_codes
        Integer batch code per sample, ``>= 0``; need not be dense.
    caption_codes
        Integer caption code per sample, ``>= 0``; need not be dense.

    Attributes
    ----------
    n
        Number of samples in the pool.
    n_batches, n_captions
        Number of distinct batch and caption codes.
    batch_codes, caption_codes
        The codes as read-only int64 arrays.
    order_a, rank_a
        Ordering A: pool positions sorted by (batch, caption, position), and each position's
        rank in it.
    order_b, rank_b
        Ordering B: sorted by (caption, position), and the ranks.
    batch_start, batch_end, group_start, group_end
        Per rank in A, the ``[start, end)`` ranks of its batch block and of its (batch,
        caption) block.
    caption_start, caption_end
        Per rank in B, the ranks of its caption block.
    index_dtype
        The integer type of the orderings, ranks and bounds (int32 while ``2 n < 2**31``).

    Notes
    -----
    Memory is about ten index arrays of length ``n``; every array is read-only (the
    samplers share one pool; the workflow maps it from the split's pool file).
    """

    def __init__(self, batch_codes: np.ndarray, caption_codes: np.ndarray) -> None:
        batch = _int_vector(batch_codes, "batch_codes", what="integer codes")
        caption = _int_vector(caption_codes, "caption_codes", what="integer codes")
        if batch.size != caption.size:
            raise ValueError(
                f"batch_codes and caption_codes differ in length ({batch.size} != {caption.size})"
            )
        n = int(batch.size)
        self.n = n
        self.batch_codes = _read_only(batch.copy())
        self.caption_codes = _read_only(caption.copy())
        index_dtype = _index_dtype(n)  # int32 halves memory traffic
        self.index_dtype = index_dtype

        order_a, (batch_a, caption_a) = _sort_order([batch, caption], n)
        order_b, (caption_b,) = _sort_order([caption], n)
        self.order_a = _read_only(order_a.astype(index_dtype))
        self.order_b = _read_only(order_b.astype(index_dtype))

        self.rank_a = np.empty(n, dtype=index_dtype)
        self.rank_a[order_a] = np.arange(n, dtype=index_dtype)
        self.rank_b = np.empty(n, dtype=index_dtype)
        self.rank_b[order_b] = np.arange(n, dtype=index_dtype)

        new_batch = np.empty(n, dtype=bool)
        new_group = np.empty(n, dtype=bool)
        new_caption = np.empty(n, dtype=bool)
        if n:
            new_batch[0] = new_group[0] = new_caption[0] = True
            np.not_equal(batch_a[1:], batch_a[:-1], out=new_batch[1:])
            np.not_equal(caption_a[1:], caption_a[:-1], out=new_group[1:])
            new_group |= new_batch
            np.not_equal(caption_b[1:], caption_b[:-1], out=new_caption[1:])
        self.n_batches = int(np.count_nonzero(new_batch))
        self.n_captions = int(np.count_nonzero(new_caption))
        # Indexed by rank in A (batch, group) or in B (caption), not by position.
        self.batch_start, self.batch_end = _block_bounds(new_batch, index_dtype)
        self.group_start, self.group_end = _block_bounds(new_group, index_dtype)
        self.caption_start, self.caption_end = _block_bounds(new_caption, index_dtype)
        for name in (
            "rank_a",
            "rank_b",
            "batch_start",
            "batch_end",
            "group_start",
            "group_end",
            "caption_start",
            "caption_end",
        ):
            _read_only(getattr(self, name))

    def __repr__(self) -> str:
        return f"NegativePool(n={self.n}, n_batches={self.n_batches}, n_captions={self.n_captions})"

    def arrays(self) -> dict[str, np.ndarray]:
        """The precomputed arrays by name: with :attr:`n_batches` and :attr:`n_captions`, all
        that :meth:`from_arrays` needs to rebuild the pool without sorting again (the workflow
        stores them once per split; each negatives job maps them)."""
        return {name: getattr(self, name) for name in _STORED}

    @classmethod
    def from_arrays(
        cls, arrays: dict[str, np.ndarray], *, n_batches: int, n_captions: int
    ) -> NegativePool:
        """The pool from :meth:`arrays` (read-only views, e.g. of a memory-mapped file)."""
        if set(arrays) != set(_STORED):
            raise ValueError(
                f"NegativePool.from_arrays: expected arrays {sorted(_STORED)}, got {sorted(arrays)}"
            )
        n = int(np.asarray(arrays["batch_codes"]).shape[0])
        index_dtype = _index_dtype(n)
        pool = cls.__new__(cls)
        pool.n, pool.n_batches, pool.n_captions = n, int(n_batches), int(n_captions)
        pool.index_dtype = index_dtype
        for name in _STORED:
            array = np.asarray(arrays[name])
            dtype = np.int64 if name.endswith("codes") else index_dtype
            if array.shape != (n,) or array.dtype != dtype:
                raise ValueError(
                    f"NegativePool.from_arrays: '{name}' must be {np.dtype(dtype)} of length {n}, "
                    f"got {array.dtype} of shape {array.shape} (rebuild the split index)"
                )
            if array.flags.writeable:
                array = _read_only(array.view())
            setattr(pool, name, array)
        return pool


def _index_dtype(n: int) -> type[np.integer]:
    # int32 with headroom: the sampler's sums of ranks and offsets stay below 2n.
    return np.int32 if 2 * n < 2**31 else np.int64


# Stored name -> attribute of the precomputed pool arrays.
# The pool's arrays, as stored once per split (see NegativePool.arrays).
_STORED = (
    "batch_codes",
    "caption_codes",
    "order_a",
    "order_b",
    "rank_a",
    "rank_b",
    "batch_start",
    "batch_end",
    "group_start",
    "group_end",
    "caption_start",
    "caption_end",
)


def sample_negatives(
    pool: NegativePool, anchors: np.ndarray, *, k: int, rng: np.random.Generator
) -> tuple[np.ndarray, FallbackCounts]:
    """Draw ``k`` negatives per anchor (DESIGN.md section 4).

    Parameters
    ----------
    pool
        The whole split.
    anchors
        Pool positions of the anchors (any integer dtype, repeats allowed).
    k
        Negatives per anchor (``negatives_per_sample``).
    rng
        Random stream, usually :func:`chunk_rng`. Exactly one call
        ``rng.random((k, len(anchors)))`` is made (the stream of ``k`` calls
        ``rng.random(len(anchors))``, one per column), whatever the data.

    Returns
    -------
    negatives
        ``(len(anchors), k)`` int64 pool positions; column ``j`` (0-based) is
        ``negative_{j+1}``: even ``j`` caption negatives, odd ``j`` sentence negatives.
    counts
        Level of every negative, see :class:`FallbackCounts`.

    Raises
    ------
    ValueError
        If ``k >= 1`` and the pool has fewer than 2 samples, if ``k < 0``, or if an anchor
        is not a pool position.
    """
    k = operator.index(k)
    if k < 0:
        raise ValueError(f"k (negatives_per_sample) must be >= 0, got {k}")
    anchors = _int_vector(anchors, "anchors", what="pool positions", below=pool.n)
    n_anchors = anchors.size
    if k == 0:
        return np.empty((n_anchors, 0), dtype=np.int64), FallbackCounts()
    if pool.n < 2:
        raise InputError(
            f"negatives need at least 2 samples in the split, the pool has {pool.n}; "
            "add cells to the split, or build it without negatives (the single format)"
        )

    # All draws up front (row j = column j, exactly the stream of k calls of
    # rng.random(n_anchors)); anchors are then sampled in blocks whose temporaries stay in
    # cache, so the rate does not drop for a million anchors.
    uniforms = rng.random((k, n_anchors))
    negatives = np.empty((n_anchors, k), dtype=np.int64)
    level_counts = np.zeros((2, _N_LEVELS), dtype=np.int64)  # [caption col, sentence col]
    for start in range(0, n_anchors, ANCHOR_BLOCK):
        stop = min(start + ANCHOR_BLOCK, n_anchors)
        level_counts += _sample_block(
            pool, anchors[start:stop], uniforms[:, start:stop], negatives[start:stop]
        )

    caption_counts, sentence_counts = level_counts
    counts = FallbackCounts(
        caption_same_batch=caption_counts[_CAPTION_SAME_BATCH],
        caption_other_batch=caption_counts[_CAPTION_OTHER_BATCH],
        caption_as_sentence=caption_counts[_SENTENCE_SAME_BATCH]
        + caption_counts[_SENTENCE_OTHER_BATCH],
        sentence_same_batch=sentence_counts[_SENTENCE_SAME_BATCH],
        sentence_other_batch=sentence_counts[_SENTENCE_OTHER_BATCH],
        repeated=caption_counts[_REPEAT] + sentence_counts[_REPEAT],
    )
    return negatives, counts


def _sample_block(
    pool: NegativePool, anchors: np.ndarray, uniforms: np.ndarray, negatives: np.ndarray
) -> np.ndarray:
    """Fill ``negatives`` (``(n, k)``) for ``anchors``, column ``j`` drawn from ``uniforms[j]``;
    return the level counts ``[caption column, sentence column] x level``."""
    n_anchors = anchors.size
    k = negatives.shape[1]
    it = pool.index_dtype
    unsigned = np.uint32 if it is np.int32 else np.uint64
    n_pool = it(pool.n)
    # Per-anchor geometry: ranks, block bounds and level sizes.
    rank_a = pool.rank_a[anchors]
    rank_b = pool.rank_b[anchors]
    batch_start = pool.batch_start[rank_a]
    batch_end = pool.batch_end[rank_a]
    group_start = pool.group_start[rank_a]
    group_end = pool.group_end[rank_a]
    caption_start = pool.caption_start[rank_b]
    caption_end = pool.caption_end[rank_b]
    batch_size = batch_end - batch_start
    level_sizes = {
        _CAPTION_SAME_BATCH: batch_size - (group_end - group_start),
        _CAPTION_OTHER_BATCH: n_pool - (caption_end - caption_start),
        _SENTENCE_SAME_BATCH: batch_size - 1,
        _SENTENCE_OTHER_BATCH: n_pool - batch_size,
    }
    zero = np.zeros(n_anchors, dtype=it)
    pool_end = np.full(n_anchors, n_pool, dtype=it)
    # Per level, the two rank ranges [lo1, hi1) + [lo2, hi2); hi1 <= lo2 always.
    level_ranges = {
        _CAPTION_SAME_BATCH: (batch_start, group_start, group_end, batch_end),
        _CAPTION_OTHER_BATCH: (zero, caption_start, caption_end, pool_end),
        _SENTENCE_SAME_BATCH: (batch_start, batch_end, batch_end, batch_end),
        _SENTENCE_OTHER_BATCH: (zero, batch_start, batch_end, pool_end),
    }
    anchor_offset_in_batch = rank_a - batch_start

    # Running counts over the distinct negatives chosen so far in each row.
    n_chosen = np.zeros(n_anchors, dtype=it)
    n_same_batch = np.zeros(n_anchors, dtype=it)
    n_same_batch_other_caption = np.zeros(n_anchors, dtype=it)
    n_other_caption = np.zeros(n_anchors, dtype=it)

    # Column-major bookkeeping so that each column is one contiguous vector.
    chosen_rank_a = np.empty((k, n_anchors), dtype=it)
    chosen_rank_b = np.empty((k, n_anchors), dtype=it)
    chosen_other_caption = np.empty((k, n_anchors), dtype=bool)
    chosen_repeat = np.zeros((k, n_anchors), dtype=bool)
    level_counts = np.zeros((2, _N_LEVELS), dtype=np.int64)  # [caption col, sentence col]

    for column in range(k):
        is_caption_column = is_caption_negative(column + 1)
        # One draw per anchor and column, whatever the level: the stream never depends on data.
        uniform = uniforms[column]

        available = {
            _SENTENCE_SAME_BATCH: level_sizes[_SENTENCE_SAME_BATCH] - n_same_batch,
            _SENTENCE_OTHER_BATCH: level_sizes[_SENTENCE_OTHER_BATCH] - (n_chosen - n_same_batch),
        }
        if is_caption_column:
            available[_CAPTION_SAME_BATCH] = (
                level_sizes[_CAPTION_SAME_BATCH] - n_same_batch_other_caption
            )
            available[_CAPTION_OTHER_BATCH] = level_sizes[_CAPTION_OTHER_BATCH] - n_other_caption

        # Most preferred level with an available candidate; least preferred written first.
        level = np.full(n_anchors, _REPEAT, dtype=np.int8)
        level_available = np.zeros(n_anchors, dtype=it)
        for code in sorted(available, reverse=True):
            has_candidate = available[code] > 0
            np.copyto(level, code, where=has_candidate)
            np.copyto(level_available, available[code], where=has_candidate)
        # count_nonzero per code: np.bincount on int8 is several times slower here.
        present = np.array([np.count_nonzero(level == code) for code in range(_N_LEVELS)])
        level_counts[0 if is_caption_column else 1] += present

        # The per-anchor rank ranges of the chosen level (repeat rows keep any valid ranges).
        used_levels = [code for code in sorted(available) if present[code]] or [min(available)]
        lo1, hi1, lo2, hi2 = level_ranges[used_levels[0]]
        if len(used_levels) > 1:
            lo1, hi1, lo2, hi2 = (bound.copy() for bound in (lo1, hi1, lo2, hi2))
            for code in used_levels[1:]:
                in_level = level == code
                for target, source in zip((lo1, hi1, lo2, hi2), level_ranges[code], strict=True):
                    np.copyto(target, source, where=in_level)
        in_b = level == _CAPTION_OTHER_BATCH if present[_CAPTION_OTHER_BATCH] else None
        first_length = hi1 - lo1
        first_length_unsigned = first_length.view(unsigned)
        second_length_unsigned = (hi2 - lo2).view(unsigned)

        # Virtual indices (position inside the level) of the excluded items; n_pool = outside.
        excluded = []
        if present[_SENTENCE_SAME_BATCH]:
            excluded.append(np.where(level == _SENTENCE_SAME_BATCH, anchor_offset_in_batch, n_pool))
        for earlier in range(column):
            ranks = chosen_rank_a[earlier]
            if in_b is not None:
                ranks = np.where(in_b, chosen_rank_b[earlier], ranks)
            offset_first = ranks - lo1
            offset_second = ranks - lo2
            # Unsigned view: a negative offset wraps to a huge value, one compare per range.
            in_first = offset_first.view(unsigned) < first_length_unsigned
            in_second = offset_second.view(unsigned) < second_length_unsigned
            offset_second += first_length
            excluded.append(
                np.where(in_first, offset_first, np.where(in_second, offset_second, n_pool))
            )

        # r-th available candidate: least fixed point of x = r + #{excluded <= x}.
        draw = (uniform * level_available).astype(it)
        # Guard only: float rounding cannot reach `available` for counts below 2**53.
        np.minimum(draw, level_available - 1, out=draw)
        virtual = draw
        for _ in range(len(excluded) + 1):
            if not excluded:
                break
            moved = draw.copy()
            for item in excluded:
                moved += item <= virtual
            if np.array_equal(moved, virtual):
                break
            virtual = moved

        rank = lo1 + virtual
        rank += (virtual >= first_length) * (lo2 - hi1)
        repeat_rows = np.flatnonzero(level == _REPEAT) if present[_REPEAT] else None
        if repeat_rows is not None:
            rank[repeat_rows] = 0  # keep the gather in bounds; overwritten below
        position = pool.order_a[rank]
        if in_b is not None:  # those ranks are in ordering B
            position[in_b] = pool.order_b[rank[in_b]]
            new_rank_a = np.where(in_b, pool.rank_a[position], rank)
        else:
            new_rank_a = rank
        new_rank_b = pool.rank_b[position]

        other_caption = (new_rank_b < caption_start) | (new_rank_b >= caption_end)
        same_batch = (new_rank_a >= batch_start) & (new_rank_a < batch_end)
        negatives[:, column] = position
        chosen_rank_a[column] = new_rank_a
        chosen_rank_b[column] = new_rank_b
        chosen_other_caption[column] = other_caption

        if repeat_rows is not None:
            negatives[repeat_rows, column] = _pick_repeats(
                negatives[repeat_rows, :column].T,
                eligible=~chosen_repeat[:column, repeat_rows],
                other_caption=chosen_other_caption[:column, repeat_rows],
                prefer_other_caption=is_caption_column,
                uniform=uniform[repeat_rows],
            )
            chosen_repeat[column, repeat_rows] = True
            # Counters of repeat rows stay garbage on purpose: every later column of such a
            # row is a repeat too (nothing left to choose) and counters only ever decrease
            # availability, so they cannot turn a repeat row back into a sampling row.

        n_chosen += 1
        n_same_batch += same_batch
        n_same_batch_other_caption += same_batch & other_caption
        n_other_caption += other_caption

    return level_counts


def _pick_repeats(
    earlier: np.ndarray,
    *,
    eligible: np.ndarray,
    other_caption: np.ndarray,
    prefer_other_caption: bool,
    uniform: np.ndarray,
) -> np.ndarray:
    """Uniform pick among a row's distinct earlier negatives (arrays are ``(columns, rows)``).

    A caption column prefers an earlier negative with a different caption, so it keeps its
    meaning whenever the split has one (every other sample is already in the row here).
    """
    if prefer_other_caption:
        eligible_other = eligible & other_caption
        eligible = np.where(eligible_other.any(axis=0), eligible_other, eligible)
    n_eligible = eligible.sum(axis=0)
    draw = np.minimum((uniform * n_eligible).astype(np.int64), n_eligible - 1)
    chosen_column = np.argmax(np.cumsum(eligible, axis=0) > draw, axis=0)
    return earlier[chosen_column, np.arange(earlier.shape[1])]


def chunk_rng(seed: int, split: str, chunk: str) -> np.random.Generator:
    """Random stream of one chunk's negatives.

    Derived from ``seed``, the split name and the chunk name through BLAKE2b (stable across
    processes and Python versions, unlike ``hash()``), then ``SeedSequence`` and ``PCG64``.
    The three parts are JSON-encoded, so ``("ab", "c")`` and ``("a", "bc")`` differ.

    Parameters
    ----------
    seed
        The config's ``seed``.
    split
        Split name (``train``, ``val``, ``test``).
    chunk
        Chunk name, e.g. ``chunk_0``; callers must pass it the same way on every run.

    Returns
    -------
    numpy.random.Generator
        A fresh generator; the same arguments always give the same stream.
    """
    if isinstance(seed, bool):
        raise TypeError("seed must be an integer, not a bool")
    seed = operator.index(seed)
    if not isinstance(split, str) or not isinstance(chunk, str):
        raise TypeError("split and chunk must be strings")
    payload = json.dumps([seed, split, chunk], ensure_ascii=True).encode("ascii")
    digest = hashlib.blake2b(payload, digest_size=32, person=_RNG_PERSONALIZATION).digest()
    entropy = int.from_bytes(digest, "little")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))
