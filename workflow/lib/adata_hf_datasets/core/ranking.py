"""Ranking: the var positions of each cell's top genes, by expression (the spelling is in
:mod:`~adata_hf_datasets.core.spelling`).

The ranking is vectorised (no Python loop per cell). Rows are processed in sub-blocks of a
few tens of thousands of nonzeros so that the sort stays in cache. Each stored value becomes
one packed 64-bit key::

    | row in sub-block | descending order-preserving uint32 of the value | position in sub-block |

and one ``np.sort`` of the keys orders every row of the sub-block by value descending, ties by
var position (the position in a canonical CSR row increases with the column). Sorting by the
row first leaves each row's keys in the row's own slice, so the top genes of a row are the
first ``min(nnz, cs_length)`` keys of its slice.

The uint32 is the float32 bit pattern with the sign-bit trick. Values that are not exactly
float32 (float64 beyond float32 precision, integers beyond 2**24) are rounded to float32 for
the key, which keeps the order except inside ties created by the rounding; those rows are
detected afterwards and re-sorted exactly, so ranking is always exact.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from ..errors import InputError
from .spelling import GeneSpeller

__all__ = ["CellSentenceBuilder"]

# About this many nonzeros per sorted sub-block (8 bytes a key: 256 KiB, stays in L2;
# measured: 2**14-2**15 beat 2**16-2**18 by 10-25 %).
_SUBBLOCK_KEYS = 1 << 15
_MAX_SUBBLOCK_ROWS = 1 << 12
# Dense blocks are turned into CSR arrays about this many values at a time.
_DENSE_TILE_VALUES = 1 << 20
# Integers of at most this magnitude are exact in float32 (24-bit significand).
_FLOAT32_EXACT_INT = 1 << 24


class CellSentenceBuilder:
    """Rank genes per cell and build cell sentences.

    Parameters
    ----------
    gene_names
        One name per var position (see :func:`~adata_hf_datasets.core.genes.resolve_gene_names`).
    cs_length
        Maximum number of genes in a sentence.
    gene_mask
        Optional boolean mask over var positions; genes outside it are never ranked.
    chunk_label
        Optional chunk name used in error messages.
    """

    def __init__(
        self,
        gene_names: np.ndarray,
        *,
        cs_length: int,
        gene_mask: np.ndarray | None = None,
        chunk_label: str | None = None,
    ) -> None:
        self._where = f"chunk {chunk_label}" if chunk_label is not None else "ranking block"
        if isinstance(cs_length, bool) or not isinstance(cs_length, int | np.integer):
            message = f"{self._where}: cs_length must be a positive integer, got {cs_length!r}."
            raise TypeError(message)
        if cs_length < 1:
            message = (
                f"{self._where}: cs_length must be at least 1 (the genes of a sentence), got "
                f"{cs_length}"
            )
            raise ValueError(message)
        names = np.asarray(gene_names, dtype=object)
        if names.ndim != 1:
            message = f"{self._where}: gene_names must be 1-D, got shape {names.shape}."
            raise ValueError(message)
        self.n_vars = int(names.shape[0])
        self.cs_length = int(cs_length)
        self.gene_names = names

        if gene_mask is not None:
            gene_mask = np.asarray(gene_mask)
            if gene_mask.dtype != bool or gene_mask.shape != (self.n_vars,):
                message = (
                    f"{self._where}: gene_mask must be a bool array of length {self.n_vars} "
                    f"(one per gene), got dtype {gene_mask.dtype} and shape {gene_mask.shape}."
                )
                raise ValueError(message)
        self.gene_mask = gene_mask
        # Dense blocks: select the kept columns once per tile instead of masking values.
        self._kept_columns = None if gene_mask is None else np.flatnonzero(gene_mask)

        self.speller = GeneSpeller(names)

    # ------------------------------------------------------------------ ranking

    def top_genes(self, block) -> tuple[np.ndarray, np.ndarray]:
        """Return the var positions of each cell's top genes.

        Parameters
        ----------
        block
            ``scipy.sparse`` CSR matrix/array (other sparse formats are converted) or a dense
            2-D numpy array; one row per cell, n_vars columns, any real dtype.

        Returns
        -------
        indptr, gene_positions
            ``indptr`` (int64, n_rows + 1) delimits each cell's genes in ``gene_positions``
            (int32): at most ``cs_length`` per cell, by value descending, ties by lower var
            position, zeros and masked genes excluded. Negative values rank below positives.
        """
        if sp.issparse(block):
            return self._top_genes_sparse(block)
        return self._top_genes_dense(np.asarray(block))

    def _check_shape(self, shape: tuple[int, ...]) -> None:
        if len(shape) != 2 or shape[1] != self.n_vars:
            message = (
                f"{self._where}: ranking block has shape {shape} but there are {self.n_vars} gene "
                f"names; the ranking matrix (X, layer or raw) must have one column per var row."
            )
            raise InputError(message)

    def _top_genes_sparse(self, block) -> tuple[np.ndarray, np.ndarray]:
        if block.format != "csr":
            block = block.tocsr()
        self._check_shape(block.shape)
        if not block.has_canonical_format:
            # Ties are broken by position within the row, which must follow the column.
            block = block.copy()
            block.sum_duplicates()
        data = _as_real(block.data, self._where)
        indptr = np.asarray(block.indptr, dtype=np.int64)
        take_counts, positions = self._rank_csr(data, block.indices, indptr, apply_mask=True)
        return _counts_to_indptr(take_counts), positions

    def _top_genes_dense(self, block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self._check_shape(block.shape)
        block = _as_real(block, self._where)
        n_rows = block.shape[0]
        columns = self._kept_columns
        n_columns = self.n_vars if columns is None else columns.size
        if n_rows == 0 or n_columns == 0:
            return np.zeros(n_rows + 1, dtype=np.int64), np.zeros(0, dtype=np.int32)

        # Convert tile by tile to CSR arrays; nothing bigger than a tile is copied.
        rows_per_tile = max(1, _DENSE_TILE_VALUES // n_columns)
        take_parts: list[np.ndarray] = []
        position_parts: list[np.ndarray] = []
        for start in range(0, n_rows, rows_per_tile):
            tile = block[start : start + rows_per_tile]
            if columns is not None:
                tile = tile[:, columns]
            flat = np.ascontiguousarray(tile).reshape(-1)
            # Row-major nonzeros: ascending column within a row, i.e. canonical CSR order.
            nonzero = np.flatnonzero(flat != 0)  # via bool: ~4x faster than on floats
            row_starts = np.arange(tile.shape[0] + 1, dtype=np.int64) * n_columns
            indptr = np.searchsorted(nonzero, row_starts).astype(np.int64, copy=False)
            column_ids = nonzero - np.repeat(row_starts[:-1], np.diff(indptr))
            indices = column_ids if columns is None else columns[column_ids]
            take_counts, positions = self._rank_csr(
                flat[nonzero], indices, indptr, apply_mask=False
            )
            take_parts.append(take_counts)
            position_parts.append(positions)
        return _counts_to_indptr(np.concatenate(take_parts)), np.concatenate(position_parts)

    def _rank_csr(
        self, data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, *, apply_mask: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top genes of canonical CSR rows: (genes taken per row, their var positions)."""
        n_rows = indptr.shape[0] - 1
        row_nnz = np.diff(indptr)
        mask = self.gene_mask if apply_mask else None
        take_counts = np.zeros(n_rows, dtype=np.int64)
        # Upper bound before masking; np.empty leaves untouched pages unallocated.
        out = np.empty(int(np.minimum(row_nnz, self.cs_length).sum()), dtype=np.int32)
        filled = 0
        for start, stop in _subblock_bounds(indptr):
            lo, hi = indptr[start], indptr[stop]
            sub_data = data[lo:hi]
            sub_indices = indices[lo:hi]
            counts = row_nnz[start:stop]
            keep = sub_data != 0  # explicit zeros are never in a sentence
            if mask is not None:
                keep &= mask[sub_indices]
            if not keep.all():
                sub_data = sub_data[keep]
                sub_indices = sub_indices[keep]
                kept_before = np.concatenate(([0], np.cumsum(keep, dtype=np.int64)))
                counts = np.diff(kept_before[indptr[start : stop + 1] - lo])
            taken, positions = _rank_rows(
                sub_data, sub_indices, counts, self.cs_length, self._where
            )
            take_counts[start:stop] = taken
            out[filled : filled + positions.shape[0]] = positions
            filled += positions.shape[0]
        return take_counts, out[:filled]

    # ------------------------------------------------------------------ text

    def build(self, block) -> pa.StringArray | pa.LargeStringArray:
        """Return the cell sentence of each row of ``block``.

        Parameters
        ----------
        block
            As for :meth:`top_genes`.

        Returns
        -------
        pyarrow.StringArray or pyarrow.LargeStringArray
            Gene names of :meth:`top_genes` joined by single spaces; an empty string for a cell
            without an (unmasked) nonzero. Large strings only when the text exceeds 2 GiB.
        """
        indptr, positions = self.top_genes(block)
        return self.speller.spell(indptr, positions, reuse_positions=True)

    def sentences_from_positions(
        self, indptr: np.ndarray, positions: np.ndarray
    ) -> pa.StringArray | pa.LargeStringArray:
        """Join gene names given the output of :meth:`top_genes` (see :meth:`build`)."""
        return self.speller.spell(indptr, positions)


def _as_real(values: np.ndarray, where: str) -> np.ndarray:
    """Return ``values`` as a real numeric array (bool as uint8), or raise for other dtypes."""
    if values.dtype == bool:
        return values.view(np.uint8)
    if values.dtype.kind not in "iuf":
        message = (
            f"{where}: the ranking matrix has dtype {values.dtype}; cell sentences need a real "
            f"numeric matrix. Point the ranking matrix (X, a layer or raw) at expression values."
        )
        raise InputError(message)
    return values


def _subblock_bounds(indptr: np.ndarray) -> list[tuple[int, int]]:
    """Split rows into runs of about ``_SUBBLOCK_KEYS`` nonzeros (at least one row each)."""
    n_rows = indptr.shape[0] - 1
    if n_rows == 0:
        return []
    total = int(indptr[-1])
    targets = np.arange(_SUBBLOCK_KEYS, total, _SUBBLOCK_KEYS, dtype=np.int64)
    cuts = np.searchsorted(indptr, targets, side="left")
    # Also cap the rows per sub-block so that the row field of the key stays small.
    row_cuts = np.arange(0, n_rows, _MAX_SUBBLOCK_ROWS, dtype=np.int64)
    cuts = np.unique(np.concatenate((row_cuts, cuts, [n_rows])))  # a few hundred ints
    return list(zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True))


def _counts_to_indptr(counts: np.ndarray) -> np.ndarray:
    indptr = np.zeros(counts.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return indptr


_arange_cache = np.arange(0, dtype=np.uint64)


def _arange_u64(n: int) -> np.ndarray:
    """``np.arange(n, dtype=uint64)`` from a cache (allocated once, not per sub-block)."""
    global _arange_cache
    if _arange_cache.shape[0] < n:
        _arange_cache = np.arange(max(n, 2 * _arange_cache.shape[0]), dtype=np.uint64)
        _arange_cache.flags.writeable = False
    return _arange_cache[:n]


def _rank_rows(
    data: np.ndarray, indices: np.ndarray, counts: np.ndarray, k: int, where: str
) -> tuple[np.ndarray, np.ndarray]:
    """Rank the rows of one sub-block.

    ``data``/``indices`` hold the rows' nonzero, unmasked values in canonical CSR order
    (ascending column within a row); ``counts`` their number per row.

    Returns the number of genes taken per row and their var positions (int32), row by row.
    """
    n = data.shape[0]
    take = np.minimum(counts, k)
    if n == 0:
        return take, np.zeros(0, dtype=np.int32)

    if data.dtype.kind == "f" and np.isnan(data).any():
        first = int(np.flatnonzero(np.isnan(data))[0])
        message = (
            f"{where}: the ranking matrix contains NaN (var position {int(indices[first])}); "
            f"NaN has no rank. Fill or drop NaN in the ranking matrix (X, layer or raw)."
        )
        raise InputError(message)

    with np.errstate(over="ignore"):  # beyond float32 range -> inf: still monotone
        values32 = data.astype(np.float32, copy=False)
    exact = _float32_is_exact(data, values32)

    n_rows = counts.shape[0]
    position_bits = max(int(n - 1).bit_length(), 1)
    row_shift = 32 + position_bits
    if (n_rows - 1).bit_length() + row_shift > 64:
        # Too many rows/values in this sub-block for the packed key (e.g. one huge row).
        order = _exact_order(data, counts)
    else:
        # Descending order-preserving uint32: non-negative floats get their 31 low bits
        # flipped, negative floats stay as they are (larger magnitude -> larger key).
        bits = values32.view(np.uint32)
        desc = bits >> np.uint32(31)
        desc -= np.uint32(1)
        desc &= np.uint32(0x7FFFFFFF)
        desc ^= bits
        keys = np.left_shift(desc, np.uint64(position_bits), dtype=np.uint64)
        keys |= _arange_u64(n)
        row_field = np.arange(n_rows, dtype=np.uint64) << np.uint64(row_shift)
        keys |= np.repeat(row_field, counts)
        keys.sort()
        position_mask = np.uint64((1 << position_bits) - 1)
        if exact:
            if (counts > k).any():
                keys = keys[_head_index(counts, take)]
            keys &= position_mask
            return take, indices[keys.view(np.int64)].astype(np.int32, copy=False)
        keys &= position_mask
        order = keys.view(np.int64)
        _repair_rounding_ties(order, data, counts)

    if (counts > k).any():
        order = order[_head_index(counts, take)]
    return take, indices[order].astype(np.int32, copy=False)


def _float32_is_exact(data: np.ndarray, values32: np.ndarray) -> bool:
    """Whether every value of ``data`` is exactly its float32 (then the key sort is exact)."""
    if data.dtype.kind == "f":
        return data.dtype.itemsize <= 4 or bool((values32 == data).all())
    if data.dtype.itemsize <= 2:
        return True
    # int64 -> float64 comparison is not exact above 2**53; use the magnitude instead.
    return bool(int(data.min()) >= -_FLOAT32_EXACT_INT and int(data.max()) <= _FLOAT32_EXACT_INT)


def _head_index(counts: np.ndarray, take: np.ndarray) -> np.ndarray:
    """Indices of the first ``take[i]`` entries of each row (rows laid out by ``counts``)."""
    row_starts = np.cumsum(counts) - counts
    out_starts = np.cumsum(take) - take
    return np.repeat(row_starts - out_starts, take) + np.arange(int(take.sum()))


def _descending_key(values: np.ndarray) -> np.ndarray:
    """An exact key whose ascending order is the descending order of ``values``."""
    if values.dtype.kind == "f":
        return np.negative(values)  # exact for every float width
    return ~values  # bitwise not reverses integer order without overflow


def _exact_order(data: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Exact per-row order (value descending, position ascending) by lexsort."""
    row_ids = np.repeat(np.arange(counts.shape[0]), counts)
    positions = np.arange(data.shape[0])
    return np.lexsort((positions, _descending_key(data), row_ids))


def _repair_rounding_ties(order: np.ndarray, data: np.ndarray, counts: np.ndarray) -> None:
    """Re-sort, exactly and in place, the rows whose float32 keys tied distinct values.

    Rounding to float32 is monotone, so after the key sort a row can only be out of order
    where two neighbours have a larger true value second.
    """
    ranked = data[order]
    wrong = ranked[:-1] < ranked[1:]
    row_ends = np.cumsum(counts)[:-1] - 1
    row_ends = row_ends[(row_ends >= 0) & (row_ends < wrong.shape[0])]
    wrong[row_ends] = False  # neighbours across a row boundary are not compared
    if not wrong.any():
        return
    row_starts = np.concatenate(([0], np.cumsum(counts)))
    bad_rows = np.searchsorted(row_starts, np.flatnonzero(wrong), side="right") - 1
    bad_counts = np.zeros_like(counts)
    bad_counts[bad_rows] = counts[bad_rows]
    members = _head_index(counts, bad_counts)
    row_ids = np.repeat(np.arange(counts.shape[0]), bad_counts)
    exact = np.lexsort((members, _descending_key(data[members]), row_ids))
    # Each row keeps its slice, so the repaired order goes back to the same places.
    order[members] = members[exact]
