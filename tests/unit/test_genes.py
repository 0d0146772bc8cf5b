"""A chunk's gene names and the highly-variable mask, checked before any ranking."""

from __future__ import annotations

import numpy as np
import pytest

from adata_hf_datasets.core.genes import highly_variable_mask, resolve_gene_names


def test_highly_variable_mask_options():
    values = np.array([True, False, True])
    assert highly_variable_mask(highly_variable=values, use_highly_variable=True).tolist() == [
        True,
        False,
        True,
    ]
    assert highly_variable_mask(highly_variable=values, use_highly_variable=False) is None
    assert highly_variable_mask(highly_variable=None, use_highly_variable=True) is None
    object_values = np.array([True, False], dtype=object)
    assert highly_variable_mask(
        highly_variable=object_values, use_highly_variable=True
    ).tolist() == [True, False]
    with pytest.raises(ValueError, match="highly_variable"):
        highly_variable_mask(
            highly_variable=np.array([True, None], dtype=object), use_highly_variable=True
        )


def test_resolve_gene_names_uses_the_column():
    names, warning = resolve_gene_names(
        gene_name_values=np.array(["A", "B"], dtype=object),
        var_index=np.array(["ENSG1", "ENSG2"], dtype=object),
        gene_name_column="gene_symbols",
        chunk_label="chunk_3",
    )
    assert names.tolist() == ["A", "B"]
    assert warning is None


def test_resolve_gene_names_falls_back_to_var_index_with_warning():
    names, warning = resolve_gene_names(
        gene_name_values=None,
        var_index=np.array(["ENSG1", "ENSG2"], dtype=object),
        gene_name_column="gene_symbols",
        chunk_label="chunk_3",
    )
    assert names.tolist() == ["ENSG1", "ENSG2"]
    assert warning is not None
    assert "chunk_3" in warning
    assert "gene_symbols" in warning
    assert "var.index" in warning
    assert "set gene_name_column" in warning


@pytest.mark.parametrize("bad", [None, np.nan, "", "   "])
def test_resolve_gene_names_missing_or_empty_name_is_an_error(bad):
    values = np.array(["A", "B", bad, "D", bad], dtype=object)
    with pytest.raises(ValueError) as error:
        resolve_gene_names(
            gene_name_values=values,
            var_index=np.array(["e0", "e1", "e2", "e3", "e4"], dtype=object),
            gene_name_column="gene_symbols",
            chunk_label="chunk_9",
        )
    message = str(error.value)
    assert "chunk_9" in message
    assert "gene_symbols" in message
    assert "position 2" in message
    assert "'e2'" in message
    assert "position 4" in message
    assert " 2 missing or empty" in message


def test_resolve_gene_names_checks_var_index_in_the_fallback():
    with pytest.raises(ValueError, match=r"chunk_1.*var\.index.*position 1"):
        resolve_gene_names(
            gene_name_values=None,
            var_index=np.array(["A", ""], dtype=object),
            gene_name_column="gene_symbols",
            chunk_label="chunk_1",
        )
