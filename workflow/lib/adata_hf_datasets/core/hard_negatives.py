"""Hard caption negatives mined from a cell embedding (DESIGN.md section 4b).

A caption negative is *mined* when it is chosen among the anchor's nearest *eligible* cells by
cosine similarity in ``obsm[obsm_key]``: a different cell of the split, with another caption,
not already in the row, and (guards) not of the anchor's annotation, not more similar to the
anchor than ``(1 - relative_margin)`` times the anchor's positive reference (when that is
positive: an anchor no closer to its own caption's cells than to random ones has no margin). The eligible cells
are ranked (similarity descending, ties by pool position), and the negative is drawn from the
ranks ``[range_min, range_max)``: uniformly (``sampling: random``) or the first free one
(``top``), preferring a caption the row does not hold yet. Levels as for random negatives: the
anchor's batch first, then the other batches; a level with no free cell in the window falls
through; the random caption negative stays where no level has one.

Search: exact, with an inverted-file index
-----------------------------------------
The split's unit vectors are clustered (spherical k-means) into lists, each stored as one
contiguous run per batch (a *segment*), with each list's direction and angular radius. An
anchor at angle ``θ`` from a list's direction can be no closer to any of its members than
``cos(max(θ - radius, 0))``. Lists are searched in rounds, best bound first, and the search of
an anchor stops once no unsearched list's bound reaches the ``range_max``-th best eligible
similarity found so far: the window is then exactly the one a brute-force search gives (the
benchmark checks it). The anchors of a chunk are handled in blocks, and in each round the
anchors that search the same segment are scored against it in one matrix product, so the
Python work is per segment, not per anchor.

Determinism: every choice depends on float64 similarities (one matrix product per segment and
anchor group, whose shapes depend on the data alone), on pool positions for ties and on the
chunk's own random stream; not on the number of jobs, threads or their order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = [
    "MiningIndex",
    "MiningSettings",
    "build_mining_index",
    "mine_caption_negatives",
    "ranked_eligible",
]

LIST_SIZE = 1024
"""Cells per list of the index, about: more lists, tighter bounds, more Python per anchor."""
MAX_LISTS = 4096
_KMEANS_SAMPLE = 131072
_KMEANS_ROUNDS = 12
_ANCHOR_BLOCK = 65536
_SPLIT_BY_CAPTION = 4
_FIRST_LISTS = 2
_LISTS_PER_ROUND = 12  # measured at 1M cells: 8 and 16 to 32 were slower
_EPS = 1e-9


@dataclass(frozen=True)
class MiningSettings:
    """The ``hard_negatives`` block of the config, as the miner takes it."""

    range_min: int = 0
    range_max: int = 50
    sampling: Literal["random", "top"] = "random"
    relative_margin: float | None = 0.05
    exclude_same_annotation: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.range_min < self.range_max:
            raise ValueError(
                f"hard negatives: need 0 <= range_min < range_max, got {self.range_min}, "
                f"{self.range_max}"
            )
        if self.relative_margin is not None and not 0 <= self.relative_margin < 1:
            raise ValueError(
                f"hard negatives: relative_margin must be in [0, 1), got {self.relative_margin}"
            )
        if self.sampling not in ("random", "top"):
            raise ValueError(
                f"hard negatives: sampling must be random or top, not {self.sampling!r}"
            )


@dataclass(frozen=True)
class MiningIndex:
    """The split's unit vectors clustered into lists, each list stored batch by batch.

    Attributes
    ----------
    vectors
        ``(n, d)`` float32 unit vectors in *slot* order (list, batch, pool position), so a
        segment is one contiguous slice.
    members
        Pool position of each slot.
    slots
        Slot of each pool position (the inverse of ``members``).
    directions, radius
        Per list: its unit direction (float64) and the largest angle between it and a member.
    segment_batch, segment_start
        Per segment (sorted by list, then batch): its batch code and first slot;
        ``segment_start`` has one more entry, the end.
    list_segments
        Per list, its first segment; one more entry, the end.
    list_caption
        Per list, the one caption of its cells, or -1 when it holds several: a list of the
        anchor's own caption is never searched.
    """

    vectors: np.ndarray
    members: np.ndarray
    slots: np.ndarray
    directions: np.ndarray
    radius: np.ndarray
    segment_batch: np.ndarray
    segment_start: np.ndarray
    list_segments: np.ndarray
    list_caption: np.ndarray

    @property
    def n_lists(self) -> int:
        return int(self.directions.shape[0])

    def arrays(self) -> dict[str, np.ndarray]:
        """The per-list arrays (small) by name; ``vectors``, ``members`` and ``slots`` are
        stored beside them (see ``steps/embedding``)."""
        return {
            "directions": self.directions,
            "radius": self.radius,
            "segment_batch": self.segment_batch,
            "segment_start": self.segment_start,
            "list_segments": self.list_segments,
            "list_caption": self.list_caption,
        }


def _n_lists(n: int) -> int:
    return int(min(MAX_LISTS, max(1, n // LIST_SIZE)))


def _kmeans(vectors: np.ndarray, n_lists: int, rng: np.random.Generator) -> np.ndarray:
    """Spherical k-means directions (float32) on a sample of the rows."""
    n = vectors.shape[0]
    sample = np.sort(rng.choice(n, size=min(n, _KMEANS_SAMPLE), replace=False))
    points = np.asarray(vectors[sample], dtype=np.float32)
    centres = points[np.sort(rng.choice(points.shape[0], size=n_lists, replace=False))].copy()
    for _ in range(_KMEANS_ROUNDS):
        assignment = _nearest(points, centres)
        order = np.argsort(assignment, kind="stable")
        counts = np.bincount(assignment, minlength=n_lists)
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        filled = counts > 0
        sums = np.add.reduceat(points[order].astype(np.float64), starts[filled], axis=0)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        centres[filled] = (sums / np.where(norms > 0, norms, 1.0)).astype(np.float32)
    return centres


def _nearest(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the most similar centre of each point (the lowest index among ties)."""
    out = np.empty(points.shape[0], dtype=np.int64)
    for start in range(0, points.shape[0], 65536):
        block = np.asarray(points[start : start + 65536], dtype=np.float32)
        out[start : start + block.shape[0]] = np.argmax(block @ centres.T, axis=1)
    return out


def build_mining_index(
    vectors: np.ndarray,
    batch_codes: np.ndarray,
    *,
    seed: int,
    n_lists: int | None = None,
    out: np.ndarray | None = None,
    caption_codes: np.ndarray | None = None,
) -> MiningIndex:
    """Cluster the split's unit vectors (by pool position) into lists.

    ``n_lists`` defaults to about one list per :data:`LIST_SIZE` cells (one list, a brute-force
    search, for a small split). Any clustering gives the same mined negatives (the search is
    exact); a better one only makes it faster. ``out``: where to write the vectors in slot
    order (e.g. a memory-mapped file; filled block by block), else a new array.
    ``caption_codes``: lists are split by caption when that adds few lists (at most
    :data:`_SPLIT_BY_CAPTION` times as many), so that the lists of an anchor's own caption,
    usually its nearest and never eligible, are skipped without scoring them.
    """
    n, d = vectors.shape
    batch = np.asarray(batch_codes, dtype=np.int64)
    n_lists = _n_lists(n) if n_lists is None else int(min(max(1, n_lists), max(n, 1)))
    if not d:
        n_lists = 1
    if n_lists > 1 and d:
        centres = _kmeans(vectors, n_lists, np.random.default_rng([seed, 0x4E4547]))
        assignment = _nearest(vectors, centres)
    else:
        assignment = np.zeros(n, dtype=np.int64)
    captions = np.zeros(n, dtype=np.int64) if caption_codes is None else np.asarray(caption_codes)
    list_caption = np.full(n_lists, -1, dtype=np.int64)
    if caption_codes is not None and n_lists > 1:
        # Split each list by caption when that adds few lists: an anchor's nearest cells of
        # another caption then sit in lists of their own, which the search reaches directly
        # (the lists of its own caption, usually its nearest, are skipped unscored).
        pairs, unit = np.unique(
            assignment * (int(captions.max()) + 1) + captions, return_inverse=True
        )
        if pairs.size <= _SPLIT_BY_CAPTION * n_lists:
            assignment = unit.astype(np.int64)
            n_lists = int(pairs.size)
            list_caption = pairs % (int(captions.max()) + 1)
    members = np.lexsort((np.arange(n), batch, assignment))
    slots = np.empty(n, dtype=np.int64)
    slots[members] = np.arange(n)
    sorted_vectors = np.empty(vectors.shape, dtype=np.float32) if out is None else out
    for start in range(0, n, 65536):
        sorted_vectors[start : start + 65536] = vectors[members[start : start + 65536]]
    sorted_lists, sorted_batch = assignment[members], batch[members]

    new_segment = np.ones(n, dtype=bool)
    if n:
        new_segment[1:] = (sorted_lists[1:] != sorted_lists[:-1]) | (
            sorted_batch[1:] != sorted_batch[:-1]
        )
    segment_start = np.append(np.flatnonzero(new_segment), n).astype(np.int64)
    segment_list = sorted_lists[segment_start[:-1]]
    list_segments = np.searchsorted(segment_list, np.arange(n_lists + 1)).astype(np.int64)

    # Directions and radii in float64 from the members themselves (the bounds must hold).
    counts = np.bincount(assignment, minlength=n_lists)
    list_start = np.concatenate(([0], np.cumsum(counts)))
    directions = np.zeros((n_lists, d), dtype=np.float64)
    radius = np.zeros(n_lists, dtype=np.float64)
    for start in range(0, n_lists, 256):
        for lst in range(start, min(start + 256, n_lists)):
            lo, hi = list_start[lst], list_start[lst + 1]
            if hi == lo:
                continue
            block = sorted_vectors[lo:hi].astype(np.float64)
            total = block.sum(axis=0)
            norm = np.linalg.norm(total)
            direction = total / norm if norm > 0 else block[0]
            directions[lst] = direction
            cosines = np.clip(block @ direction, -1.0, 1.0)
            radius[lst] = float(np.arccos(cosines.min())) + 1e-7
    return MiningIndex(
        vectors=sorted_vectors,
        members=members.astype(np.int64),
        slots=slots,
        directions=directions,
        radius=radius,
        segment_batch=sorted_batch[segment_start[:-1]].astype(np.int64),
        segment_start=segment_start,
        list_segments=list_segments,
        list_caption=np.asarray(list_caption, dtype=np.int64),
    )


@dataclass(frozen=True)
class _Cells:
    """What eligibility needs to know of every pool cell."""

    captions: np.ndarray
    batches: np.ndarray
    annotations: np.ndarray | None
    references: np.ndarray | None


def ranked_eligible(
    index: MiningIndex,
    anchors: np.ndarray,
    *,
    captions: np.ndarray,
    batches: np.ndarray,
    annotations: np.ndarray | None,
    references: np.ndarray | None,
    settings: MiningSettings,
    same_batch: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``range_max`` most similar eligible cells of each anchor, best first.

    Returns ``(positions, similarities)``, both ``(len(anchors), range_max)``; ``-1`` / ``-inf``
    where fewer cells are eligible. ``same_batch``: only the anchor's batch, else only the
    other batches. Eligible: another caption, and the guards of ``settings`` (the annotation
    guard skips anchors or cells without an annotation; the margin, anchors without a positive
    reference).
    """
    cells = _Cells(captions, batches, annotations, references)
    anchors = np.asarray(anchors, dtype=np.int64)
    width = settings.range_max
    positions = np.full((anchors.size, width), -1, dtype=np.int64)
    similarities = np.full((anchors.size, width), -np.inf)
    # (anchors x lists) arrays of a block stay about 64 MB each (float32)
    step = int(max(256, min(_ANCHOR_BLOCK, 2**24 // max(index.n_lists, 1))))
    for start in range(0, anchors.size, step):
        block = anchors[start : start + step]
        p, s = _search_block(index, block, cells, settings, same_batch)
        positions[start : start + block.size] = p
        similarities[start : start + block.size] = s
    return positions, similarities


def _search_block(
    index: MiningIndex,
    anchors: np.ndarray,
    cells: _Cells,
    settings: MiningSettings,
    same_batch: bool,
) -> tuple[np.ndarray, np.ndarray]:
    m, width = anchors.size, settings.range_max
    queries = index.vectors[index.slots[anchors]].astype(np.float64)
    anchor_batch = cells.batches[anchors]
    # float32 bounds made a little looser than exact, so that rounding never prunes a list
    angles = np.arccos(np.clip(queries @ index.directions.T, -1.0, 1.0)).astype(np.float32)
    angles -= index.radius.astype(np.float32)[None, :]
    np.clip(angles, 0.0, np.pi, out=angles)
    bounds = np.cos(angles) + np.float32(1e-5)
    # A list without a segment of the level's batches cannot give anything.
    n_lists = index.n_lists
    bounds[~_level_lists(index, anchor_batch, same_batch)] = -np.inf
    own_caption = index.list_caption[None, :] == cells.captions[anchors][:, None]
    bounds[own_caption] = -np.inf
    best_s = np.full((m, width), -np.inf)
    best_p = np.full((m, width), -1, dtype=np.int64)
    searched = np.zeros((m, n_lists), dtype=bool)
    take = _FIRST_LISTS  # a small first round sets each anchor's bar early
    while True:
        threshold = best_s[:, -1]
        open_ = (~searched) & (bounds >= threshold[:, None] - _EPS) & np.isfinite(bounds)
        if not open_.any():
            break
        # each anchor's next lists: the best bounds among the open ones
        ranked = np.where(open_, bounds, -np.inf)
        take = min(take, n_lists)
        if take < n_lists:
            chosen = np.argpartition(-ranked, take - 1, axis=1)[:, :take]
        else:
            chosen = np.broadcast_to(np.arange(n_lists), (m, n_lists))
        rows = np.repeat(np.arange(m), chosen.shape[1])
        lists = chosen.ravel()
        keep = open_[rows, lists]
        rows, lists = rows[keep], lists[keep]
        searched[rows, lists] = True
        take = _LISTS_PER_ROUND
        _score_round(
            index,
            queries,
            anchors,
            anchor_batch,
            rows,
            lists,
            cells,
            settings,
            same_batch,
            best_s,
            best_p,
        )
    return best_p, best_s


def _level_lists(index: MiningIndex, anchor_batch: np.ndarray, same_batch: bool) -> np.ndarray:
    """``(m, n_lists)``: whether the list holds cells of the level's batches for each anchor."""
    n_lists = index.n_lists
    segment_list = np.repeat(np.arange(n_lists), np.diff(index.list_segments))
    batches, inverse = np.unique(anchor_batch, return_inverse=True)
    has = np.zeros((batches.size, n_lists), dtype=bool)
    per_list = np.diff(index.list_segments)
    for i, batch in enumerate(batches):
        own = np.zeros(n_lists, dtype=bool)
        own[segment_list[index.segment_batch == batch]] = True
        has[i] = own if same_batch else (per_list - own) > 0
    return has[inverse]


def _score_round(
    index: MiningIndex,
    queries: np.ndarray,
    anchors: np.ndarray,
    anchor_batch: np.ndarray,
    rows: np.ndarray,
    lists: np.ndarray,
    cells: _Cells,
    settings: MiningSettings,
    same_batch: bool,
    best_s: np.ndarray,
    best_p: np.ndarray,
) -> None:
    """Score each (anchor, list) pair of this round against the list's segments of the level,
    one matrix product per segment, and merge into the anchors' running best."""
    width = best_s.shape[1]
    # one group per (list, anchor batch): the list's segment of that batch (same-batch level)
    # or the whole list (other batches)
    if same_batch:
        order = np.lexsort((rows, anchor_batch[rows], lists))
    else:
        order = np.lexsort((rows, lists))
    rows, lists = rows[order], lists[order]
    changed = lists[1:] != lists[:-1]
    if same_batch:
        changed |= anchor_batch[rows[1:]] != anchor_batch[rows[:-1]]
    starts = np.flatnonzero(np.r_[True, changed])
    ends = np.append(starts[1:], rows.size)
    margin = settings.relative_margin
    found_rows: list[np.ndarray] = []
    found_values: list[np.ndarray] = []
    found_positions: list[np.ndarray] = []
    for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True):
        group = rows[lo:hi]
        lst = int(lists[lo])
        seg_lo, seg_hi = index.list_segments[lst], index.list_segments[lst + 1]
        if same_batch:
            match = np.flatnonzero(index.segment_batch[seg_lo:seg_hi] == anchor_batch[group[0]])
            if not match.size:
                continue
            slot_lo = int(index.segment_start[seg_lo + match[0]])
            slot_hi = int(index.segment_start[seg_lo + match[0] + 1])
        else:
            slot_lo, slot_hi = int(index.segment_start[seg_lo]), int(index.segment_start[seg_hi])
        members = index.members[slot_lo:slot_hi]
        block = index.vectors[slot_lo:slot_hi]
        scores = queries[group] @ np.asarray(block, dtype=np.float64).T
        # only what beats an anchor's current width-th best can enter its list: the rest is
        # never looked at again (in later rounds that is nearly everything)
        passing = scores > best_s[group, -1][:, None]
        r, c = np.nonzero(passing)
        if not r.size:
            continue
        anchor_r, member_c = anchors[group[r]], members[c]
        ok = cells.captions[member_c] != cells.captions[anchor_r]
        if not same_batch:
            ok &= cells.batches[member_c] != anchor_batch[group[r]]
        if settings.exclude_same_annotation and cells.annotations is not None:
            own = cells.annotations[anchor_r]
            ok &= (cells.annotations[member_c] != own) | (own < 0)
        values = scores[r, c]
        if margin is not None and cells.references is not None:
            # only a positive reference says something (NaN: no other cell of its caption)
            reference = cells.references[anchor_r]
            ok &= ~((reference > 0) & (values > (1.0 - margin) * reference))
        r, c, values = r[ok], c[ok], values[ok]
        if r.size > width * group.size:
            # many: keep each anchor's best ``width`` of this segment (ties: any, since the
            # merge below orders by position and a tie at the cut is kept in full)
            dense = np.full(scores.shape, -np.inf)
            dense[r, c] = values
            cut = np.partition(dense, dense.shape[1] - width, axis=1)[:, -width]
            r, c = np.nonzero(dense >= cut[:, None])
            values = dense[r, c]
            finite = np.isfinite(values)
            r, c, values = r[finite], c[finite], values[finite]
        found_rows.append(group[r])
        found_values.append(values)
        found_positions.append(members[c])
    if found_rows:
        _merge(
            best_s,
            best_p,
            np.concatenate(found_rows),
            np.concatenate(found_values),
            np.concatenate(found_positions),
        )


def _merge(
    best_s: np.ndarray,
    best_p: np.ndarray,
    rows: np.ndarray,
    values: np.ndarray,
    positions: np.ndarray,
) -> None:
    """Merge new ``(row, similarity, position)`` entries into the rows' best lists (similarity
    descending, ties by position), keeping ``width`` per row."""
    width = best_s.shape[1]
    touched = np.unique(rows)
    all_rows = np.concatenate([np.repeat(touched, width), rows])
    all_s = np.concatenate([best_s[touched].ravel(), values])
    all_p = np.concatenate([best_p[touched].ravel(), positions])
    key_p = np.where(np.isfinite(all_s), all_p, np.iinfo(np.int64).max)
    order = np.lexsort((key_p, -all_s, all_rows))
    sorted_rows = all_rows[order]
    first = np.searchsorted(sorted_rows, touched)
    rank = np.arange(order.size) - np.repeat(first, np.diff(np.append(first, order.size)))
    keep = rank < width
    target_rows, target_rank = sorted_rows[keep], rank[keep]
    best_s[target_rows, target_rank] = all_s[order[keep]]
    best_p[target_rows, target_rank] = np.where(
        np.isfinite(all_s[order[keep]]), all_p[order[keep]], -1
    )


def _choose(
    window: np.ndarray,
    row_negatives: np.ndarray,
    caption_negatives: np.ndarray,
    captions: np.ndarray,
    *,
    sampling: str,
    uniform: np.ndarray,
) -> np.ndarray:
    """One pick per anchor from its window (``-1``: none free), preferring a caption that no
    caption negative of the row has yet. ``row_negatives``: every negative of the row so far
    (never picked again); ``caption_negatives``: its caption negatives (``-1``: none)."""
    present = window >= 0
    in_row = (window[:, :, None] == row_negatives[:, None, :]).any(axis=2) & present
    free = present & ~in_row
    row_captions = np.where(caption_negatives >= 0, captions[np.maximum(caption_negatives, 0)], -1)
    window_captions = np.where(present, captions[np.maximum(window, 0)], -2)
    new_caption = free & ~(window_captions[:, :, None] == row_captions[:, None, :]).any(axis=2)
    pick_from = np.where(new_caption.any(axis=1)[:, None], new_caption, free)
    counts = pick_from.sum(axis=1)
    if sampling == "top":
        which = np.argmax(pick_from, axis=1)
    else:
        target = np.minimum((uniform * counts).astype(np.int64), np.maximum(counts - 1, 0))
        cumulative = np.cumsum(pick_from, axis=1)
        which = np.argmax(cumulative > target[:, None], axis=1)
    chosen = np.take_along_axis(window, which[:, None], axis=1)[:, 0]
    return np.where(counts > 0, chosen, -1)


def mine_caption_negatives(
    index: MiningIndex,
    anchors: np.ndarray,
    negatives: np.ndarray,
    caption_columns: list[int],
    *,
    captions: np.ndarray,
    batches: np.ndarray,
    annotations: np.ndarray | None,
    references: np.ndarray | None,
    settings: MiningSettings,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Replace the caption columns of ``negatives`` by mined negatives where a level has one.

    ``negatives``: ``(len(anchors), k)`` pool positions drawn at random (the sentence columns
    and the fall-back of each caption column). Returns the new negatives and, per anchor and
    column, the level the mined negative came from: 1 same batch, 2 other batch, 0 not mined
    (the random negative stays). One ``rng.random(len(anchors))`` call per caption column.
    """
    anchors = np.asarray(anchors, dtype=np.int64)
    out = np.array(negatives, dtype=np.int64, copy=True)
    levels = np.zeros(out.shape, dtype=np.int8)
    if not anchors.size or not caption_columns:
        return out, levels
    lo = settings.range_min
    windows = {}
    needed = np.ones(anchors.size, dtype=bool)
    uniforms = [rng.random(anchors.size) for _ in caption_columns]
    for level, same_batch in ((1, True), (2, False)):
        rows = np.flatnonzero(needed)
        if not rows.size:
            break
        positions, _ = ranked_eligible(
            index,
            anchors[rows],
            captions=captions,
            batches=batches,
            annotations=annotations,
            references=references,
            settings=settings,
            same_batch=same_batch,
        )
        windows[level] = (rows, positions[:, lo:])
        # The next level is searched for the anchors whose window may run out of free cells:
        # fewer than k cells, of which up to k - 1 may already be in the row.
        needed[rows] = _short_window(positions[:, lo:], out.shape[1])
    sentence_columns = [j for j in range(out.shape[1]) if j not in caption_columns]
    # the row's other negatives: the random sentence negatives (mined ones are added as chosen)
    row = np.full(out.shape, -1, dtype=np.int64)
    row[:, sentence_columns] = out[:, sentence_columns]
    row = np.concatenate([row, anchors[:, None]], axis=1)
    chosen_captions = np.full((anchors.size, len(caption_columns)), -1, dtype=np.int64)
    for nth, (column, uniform) in enumerate(zip(caption_columns, uniforms, strict=True)):
        for level in (1, 2):
            if level not in windows:
                continue
            rows, window = windows[level]
            open_rows = rows[levels[rows, column] == 0]
            if not open_rows.size:
                continue
            local = np.searchsorted(rows, open_rows)
            picked = _choose(
                window[local],
                row[open_rows],
                chosen_captions[open_rows],
                captions,
                sampling=settings.sampling,
                uniform=uniform[open_rows],
            )
            got = picked >= 0
            out[open_rows[got], column] = picked[got]
            levels[open_rows[got], column] = level
            row[open_rows[got], column] = picked[got]
        random_rows = levels[:, column] == 0
        row[random_rows, column] = out[random_rows, column]
        chosen_captions[:, nth] = out[:, column]
    return out, levels


def _short_window(window: np.ndarray, k: int) -> np.ndarray:
    """Anchors whose window holds fewer than ``k`` cells."""
    return (window >= 0).sum(axis=1) < k
