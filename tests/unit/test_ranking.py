"""Ranking: each cell's top genes by expression, against an obviously correct reference."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import scipy.sparse as sp

from adata_hf_datasets.core import ranking as ranking_module
from adata_hf_datasets.core.genes import highly_variable_mask
from adata_hf_datasets.core.ranking import CellSentenceBuilder
from tests.support.cell_sentences import (
    as_lists,
    gene_names,
    reference_sentences,
    reference_top_genes,
)


def check_against_reference(dense, cs_length, gene_mask=None, sparse_format=sp.csr_matrix):
    builder = CellSentenceBuilder(
        gene_names(dense.shape[1]), cs_length=cs_length, gene_mask=gene_mask
    )
    expected = reference_top_genes(dense, cs_length, gene_mask)
    for block in (sparse_format(dense), dense):
        indptr, positions = builder.top_genes(block)
        assert indptr.dtype == np.int64
        assert indptr.shape == (dense.shape[0] + 1,)
        assert as_lists(indptr, positions) == expected
    return builder


def test_ties_broken_by_lower_var_position():
    dense = np.array([[0, 2, 5, 2, 0, 5, 2]], dtype=np.float32)
    builder = CellSentenceBuilder(gene_names(7), cs_length=10)
    _, positions = builder.top_genes(sp.csr_matrix(dense))
    assert positions.tolist() == [2, 5, 1, 3, 6]


def test_ties_use_column_not_storage_order_for_unsorted_csr_indices():
    # The same row stored with columns in descending order (non-canonical CSR).
    data = np.array([1.0, 1.0, 1.0], dtype=np.float32)
    indices = np.array([4, 2, 0], dtype=np.int32)
    block = sp.csr_matrix((data, indices, [0, 3]), shape=(1, 5))
    assert not block.has_sorted_indices
    builder = CellSentenceBuilder(gene_names(5), cs_length=5)
    assert builder.top_genes(block)[1].tolist() == [0, 2, 4]


def test_duplicate_csr_entries_are_summed():
    data = np.array([1.0, 3.0, 2.5], dtype=np.float32)
    indices = np.array([1, 0, 1], dtype=np.int32)  # column 1 twice: 1 + 2.5 = 3.5
    block = sp.csr_matrix((data, indices, [0, 3]), shape=(1, 3))
    builder = CellSentenceBuilder(gene_names(3), cs_length=5)
    assert builder.top_genes(block)[1].tolist() == [1, 0]


def test_zeros_never_included_even_when_stored_explicitly():
    data = np.array([0.0, 3.0, 0.0, 1.0, -0.0], dtype=np.float32)
    indices = np.array([0, 1, 2, 3, 4], dtype=np.int32)
    block = sp.csr_matrix((data, indices, [0, 5]), shape=(1, 5))
    assert block.nnz == 5
    builder = CellSentenceBuilder(gene_names(5), cs_length=10)
    assert builder.top_genes(block)[1].tolist() == [1, 3]
    assert builder.build(block).to_pylist() == ["G1 G3"]


def test_fewer_nonzeros_than_cs_length_gives_all_of_them():
    rng = np.random.default_rng(1)
    dense = np.zeros((3, 50), dtype=np.float32)
    dense[0, rng.choice(50, 7, replace=False)] = rng.random(7) + 0.1
    dense[1, :] = rng.random(50) + 0.1
    indptr, _ = check_against_reference(dense, cs_length=20).top_genes(dense)
    assert np.diff(indptr).tolist() == [7, 20, 0]


def test_truncation_to_cs_length_keeps_the_largest():
    dense = np.arange(1, 31, dtype=np.float32)[None, :]
    builder = CellSentenceBuilder(gene_names(30), cs_length=4)
    assert builder.top_genes(dense)[1].tolist() == [29, 28, 27, 26]
    assert builder.build(sp.csr_matrix(dense)).to_pylist() == ["G29 G28 G27 G26"]


def test_all_zero_cell_gives_empty_sentence():
    dense = np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=np.float32)
    builder = CellSentenceBuilder(np.array(["A", "B", "C"], dtype=object), cs_length=5)
    for block in (dense, sp.csr_matrix(dense)):
        result = builder.build(block)
        assert result.type == pa.string()
        assert result.null_count == 0
        assert result.to_pylist() == ["", "B", ""]
    assert builder.build(np.zeros((2, 3))).to_pylist() == ["", ""]


def test_highly_variable_restriction():
    rng = np.random.default_rng(2)
    dense = rng.random((20, 40)).astype(np.float32)
    dense[dense < 0.3] = 0
    mask = highly_variable_mask(highly_variable=rng.random(40) < 0.5, use_highly_variable=True)
    builder = check_against_reference(dense, cs_length=8, gene_mask=mask)
    positions = builder.top_genes(dense)[1]
    assert mask[positions].all()
    # The top genes of the whole matrix include masked genes, so the mask really changes things.
    unmasked = CellSentenceBuilder(gene_names(40), cs_length=8).top_genes(dense)[1]
    assert not mask[unmasked].all()


def test_mask_excluding_every_gene_of_a_cell_gives_empty_sentence():
    dense = np.array([[5, 0, 0], [1, 2, 3]], dtype=np.float32)
    mask = np.array([False, True, True])
    builder = CellSentenceBuilder(
        np.array(["A", "B", "C"], dtype=object), cs_length=5, gene_mask=mask
    )
    assert builder.build(sp.csr_matrix(dense)).to_pylist() == ["", "C B"]
    assert builder.build(dense).to_pylist() == ["", "C B"]


@pytest.mark.parametrize("sparse_format", [sp.csr_matrix, sp.csr_array, sp.csc_matrix])
def test_dense_and_sparse_input_give_identical_output(sparse_format):
    rng = np.random.default_rng(3)
    dense = rng.poisson(0.7, size=(57, 33)).astype(np.float32)
    builder = CellSentenceBuilder(gene_names(33), cs_length=9)
    from_sparse = builder.build(sparse_format(dense))
    from_dense = builder.build(dense)
    assert from_sparse.equals(from_dense)
    assert from_dense.to_pylist() == reference_sentences(dense, gene_names(33), 9)


def test_fortran_ordered_dense_and_read_only_sparse_input():
    rng = np.random.default_rng(9)
    dense = rng.poisson(0.8, size=(40, 30)).astype(np.float64) - 0.5 * (rng.random((40, 30)) < 0.1)
    expected = reference_sentences(dense, gene_names(30), 6)
    builder = CellSentenceBuilder(gene_names(30), cs_length=6)
    assert builder.build(np.asfortranarray(dense)).to_pylist() == expected
    block = sp.csr_matrix(dense)
    before = block.data.copy()
    block.data.flags.writeable = False
    assert builder.build(block).to_pylist() == expected
    assert np.array_equal(block.data, before)


def test_float64_values_not_representable_in_float32_are_ranked_exactly():
    base = 1.0
    step = np.spacing(base)  # float64 neighbours: all round to the same float32
    values = [base, base + step, base + 3 * step, base + 2 * step, np.float32(base)]
    dense = np.array([values], dtype=np.float64)
    assert len(set(dense.astype(np.float32).ravel().tolist())) == 1
    builder = CellSentenceBuilder(gene_names(5), cs_length=5)
    # base + 3 step > base + 2 step > base + step > base == float32(base) (tie by position)
    assert builder.top_genes(sp.csr_matrix(dense))[1].tolist() == [2, 3, 1, 0, 4]
    assert builder.top_genes(dense)[1].tolist() == [2, 3, 1, 0, 4]


def test_float64_rounding_ties_across_many_rows_and_truncation():
    rng = np.random.default_rng(4)
    # Values crowded into a few float32 ulps: many float32 ties with distinct float64 values.
    dense = 1.0 + rng.integers(0, 40, size=(70, 60)) * np.spacing(1.0) * 1e6
    dense[rng.random(dense.shape) < 0.3] = 0
    dense[5] = 0.0
    check_against_reference(dense, cs_length=17)
    check_against_reference(-dense, cs_length=17)


def test_huge_float64_values_beyond_float32_range():
    dense = np.array([[1e300, 2e300, -1e300, 1.0, 3e-300, -3e-300]], dtype=np.float64)
    check_against_reference(dense, cs_length=6)


def test_negative_values_rank_below_positives():
    dense = np.array([[-1.0, 0.5, -0.25, 0.0, 2.0, -3.0, -0.25]], dtype=np.float32)
    builder = check_against_reference(dense, cs_length=10)
    assert builder.top_genes(dense)[1].tolist() == [4, 1, 2, 6, 0, 5]
    dense64 = dense.astype(np.float64)
    check_against_reference(dense64, cs_length=3)


def test_infinities_rank_at_the_ends():
    dense = np.array([[1.0, np.inf, -np.inf, -1.0]], dtype=np.float32)
    assert CellSentenceBuilder(gene_names(4), cs_length=4).top_genes(dense)[1].tolist() == [
        1,
        0,
        3,
        2,
    ]


def test_nan_is_an_error_naming_the_chunk():
    dense = np.array([[1.0, np.nan]], dtype=np.float32)
    builder = CellSentenceBuilder(gene_names(2), cs_length=4, chunk_label="chunk_0007")
    with pytest.raises(ValueError, match=r"chunk_0007.*NaN"):
        builder.top_genes(sp.csr_matrix(dense))


@pytest.mark.parametrize(
    "dtype", [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64]
)
def test_integer_dtypes(dtype):
    rng = np.random.default_rng(5)
    info = np.iinfo(dtype)
    dense = rng.integers(max(info.min, -5), min(info.max, 6), size=(30, 25)).astype(dtype)
    check_against_reference(dense, cs_length=7)


@pytest.mark.parametrize("dtype", [np.int64, np.uint64])
def test_large_integers_beyond_float32_precision_are_exact(dtype):
    big = 2**40
    # Neighbours that float32 (and for 2**53+, float64) cannot tell apart.
    dense = np.array([[big, big + 1, big + 3, big + 2, 0, 2**60, 2**60 + 1]], dtype=dtype)
    builder = check_against_reference(dense, cs_length=7)
    assert builder.top_genes(dense)[1].tolist() == [6, 5, 2, 3, 1, 0]


def test_uint64_values_near_the_top_of_the_range():
    top = np.iinfo(np.uint64).max
    dense = np.array([[top - 2, 1, top, top - 1, 2**63]], dtype=np.uint64)
    builder = check_against_reference(dense, cs_length=5)
    assert builder.top_genes(dense)[1].tolist() == [2, 3, 0, 4, 1]


def test_bool_matrix_ranks_like_ones():
    dense = np.array([[False, True, False, True]])
    builder = CellSentenceBuilder(gene_names(4), cs_length=4)
    assert builder.top_genes(sp.csr_matrix(dense))[1].tolist() == [1, 3]
    assert builder.top_genes(dense)[1].tolist() == [1, 3]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize(
    ("n_rows", "n_vars", "density", "cs_length"),
    [
        (1, 1, 1.0, 1),
        (5, 300, 0.5, 50),
        (200, 120, 0.3, 40),
        (64, 2000, 0.9, 1500),  # several sorted sub-blocks per block, rows above cs_length
        (3000, 40, 0.5, 10),  # many short rows per sub-block
    ],
)
def test_random_blocks_match_reference(seed, n_rows, n_vars, density, cs_length):
    rng = np.random.default_rng(seed)
    # Small integers make many ties; mixed signs and explicit zeros are included.
    dense = rng.integers(-3, 8, size=(n_rows, n_vars)).astype(np.float32)
    dense[rng.random(dense.shape) > density] = 0
    if n_rows > 2:
        dense[1] = 0.0
    mask = rng.random(n_vars) < 0.7 if seed % 2 else None
    check_against_reference(dense, cs_length=cs_length, gene_mask=mask)
    check_against_reference(
        dense.astype(np.float64) / 7.0, cs_length=cs_length, gene_mask=mask
    )  # float64, not float32-exact


@pytest.mark.parametrize("subblock_keys", [1, 7, 64])
def test_subblock_boundaries(monkeypatch, subblock_keys):
    # Tiny sub-blocks: boundaries fall everywhere, including inside and between long rows.
    monkeypatch.setattr(ranking_module, "_SUBBLOCK_KEYS", subblock_keys)
    monkeypatch.setattr(ranking_module, "_MAX_SUBBLOCK_ROWS", 4)
    rng = np.random.default_rng(6)
    dense = rng.integers(0, 5, size=(41, 30)).astype(np.float64)
    dense[rng.random(dense.shape) < 0.4] = 0
    dense[[0, 7, 8, 40]] = 0
    check_against_reference(dense, cs_length=12)
    check_against_reference(dense + 1e-12 * rng.random(dense.shape) * (dense != 0), cs_length=5)


def test_exact_fallback_when_the_packed_key_has_no_room(monkeypatch):
    # ~70k one-value rows in one sub-block: 17 row bits + 17 position bits + 32 > 64.
    monkeypatch.setattr(ranking_module, "_SUBBLOCK_KEYS", 1 << 20)
    monkeypatch.setattr(ranking_module, "_MAX_SUBBLOCK_ROWS", 1 << 20)
    rng = np.random.default_rng(8)
    dense = rng.integers(-2, 3, size=(70_000, 2)).astype(np.float32)
    builder = CellSentenceBuilder(gene_names(2), cs_length=1)
    expected = reference_top_genes(dense, 1)
    assert as_lists(*builder.top_genes(sp.csr_matrix(dense))) == expected


def test_block_with_wrong_number_of_genes_is_an_error():
    builder = CellSentenceBuilder(gene_names(5), cs_length=3, chunk_label="c1")
    with pytest.raises(ValueError, match=r"c1.*shape"):
        builder.top_genes(np.zeros((2, 4)))


def test_empty_block():
    builder = CellSentenceBuilder(gene_names(5), cs_length=3)
    indptr, positions = builder.top_genes(sp.csr_matrix((0, 5), dtype=np.float32))
    assert indptr.tolist() == [0]
    assert positions.size == 0
    assert len(builder.build(np.zeros((0, 5)))) == 0
