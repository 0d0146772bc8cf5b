"""Spelling: ranked gene positions to text, and the semantic keys' annotation suffix."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import scipy.sparse as sp

from adata_hf_datasets.core import spelling as spelling_module
from adata_hf_datasets.core.ranking import CellSentenceBuilder
from adata_hf_datasets.core.spelling import GeneSpeller, append_annotation
from tests.support.cell_sentences import gene_names, reference_sentences


def test_build_joins_names_with_single_spaces_and_non_ascii_names():
    names = np.array(["TP53", "Gène-α", "CD4", "MT-CO1"], dtype=object)
    dense = np.array([[0, 3, 1, 2], [4, 0, 0, 0], [1, 1, 1, 1]], dtype=np.float32)
    builder = CellSentenceBuilder(names, cs_length=3)
    result = builder.build(sp.csr_matrix(dense))
    assert result.to_pylist() == ["Gène-α MT-CO1 CD4", "TP53", "TP53 Gène-α CD4"]
    result.validate(full=True)


def test_sentences_from_positions_does_not_modify_its_input():
    builder = CellSentenceBuilder(gene_names(4), cs_length=4)
    indptr, positions = builder.top_genes(np.array([[1, 2, 3, 4]], dtype=np.float32))
    before = positions.copy()
    assert builder.sentences_from_positions(indptr, positions).to_pylist() == ["G3 G2 G1 G0"]
    assert np.array_equal(positions, before)


def test_large_string_when_offsets_would_overflow(monkeypatch):
    monkeypatch.setattr(spelling_module, "_INT32_MAX", 10)
    builder = CellSentenceBuilder(np.array(["AAAA", "BBBB", "CCCC"], dtype=object), cs_length=3)
    dense = np.array([[1, 2, 3], [3, 0, 1]], dtype=np.float32)
    result = builder.build(dense)
    assert result.type == pa.large_string()
    assert result.to_pylist() == ["CCCC BBBB AAAA", "AAAA CCCC"]
    result.validate(full=True)


def test_random_sentences_match_reference():
    rng = np.random.default_rng(7)
    names = np.array([f"g{i}x" * (1 + i % 3) for i in range(80)], dtype=object)
    dense = rng.poisson(0.5, size=(300, 80)).astype(np.float32)
    builder = CellSentenceBuilder(names, cs_length=11)
    assert builder.build(sp.csr_matrix(dense)).to_pylist() == reference_sentences(dense, names, 11)


def test_append_annotation():
    sentences = pa.array(["G1 G2", "", "G3"])
    result = append_annotation(sentences, ["T cell", "B cell", "NK cell"])
    assert result.to_pylist() == ["G1 G2 T cell", "B cell", "G3 NK cell"]
    as_numpy = append_annotation(sentences, np.array(["a", "b", "c"], dtype=object))
    assert as_numpy.to_pylist() == ["G1 G2 a", "b", "G3 c"]
    categorical = pa.array(["x", "y", "x"]).dictionary_encode()
    assert append_annotation(sentences, categorical).to_pylist() == ["G1 G2 x", "y", "G3 x"]


def test_append_annotation_keeps_large_string_and_rejects_missing():
    large = pa.array(["G1", ""], type=pa.large_string())
    result = append_annotation(large, pa.array(["a", "b"]))
    assert result.type == pa.large_string()
    assert result.to_pylist() == ["G1 a", "b"]
    with pytest.raises(ValueError, match="row 1"):
        append_annotation(pa.array(["G1", "G2"]), np.array(["a", np.nan], dtype=object))
    with pytest.raises(ValueError, match="2 sentences but 1"):
        append_annotation(pa.array(["G1", "G2"]), ["a"])


@pytest.mark.parametrize(
    ("n_vars", "positions_dtype"),
    [
        (50, np.uint16),  # the dictionary ids are uint16: positions are turned into ids in place
        (50, np.int64),  # another dtype: converted, so copied either way
        (40_000, np.int32),  # 80,000 dictionary entries: int32 ids, in place
    ],
)
@pytest.mark.parametrize("large_string", [False, True])
def test_spell_gives_the_same_text_whether_or_not_it_may_reuse_the_positions(
    monkeypatch, n_vars, positions_dtype, large_string
):
    if large_string:  # a tiny offset limit: the large-string path, with its exact byte count
        monkeypatch.setattr(spelling_module, "_INT32_MAX", 50)
    rng = np.random.default_rng(n_vars + large_string)
    names = np.array([f"g{i}" + "é" * (i % 3) for i in range(n_vars)], dtype=object)
    counts = rng.integers(0, 12, size=40)
    counts[[0, 7, 39]] = 0  # rows without genes, first and last included
    indptr = np.concatenate(([0], np.cumsum(counts)))
    positions = rng.integers(0, n_vars, size=int(indptr[-1])).astype(positions_dtype)
    expected = [" ".join(names[p] for p in positions[indptr[i] : indptr[i + 1]]) for i in range(40)]
    speller = GeneSpeller(names)

    kept = positions.copy()
    copied = speller.spell(indptr, kept, reuse_positions=False)
    assert np.array_equal(kept, positions)  # not handed over: left as it was
    reused = speller.spell(indptr, positions.copy(), reuse_positions=True)

    assert reused.equals(copied)
    assert copied.to_pylist() == expected
    assert pa.types.is_large_string(copied.type) == large_string
