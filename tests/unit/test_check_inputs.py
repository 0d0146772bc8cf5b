"""Input problems real users have are caught before any heavy work, each naming the file, the
key and the fix (the validation and gate steps, run on real zarr chunks written by anndata)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from adata_hf_datasets.errors import InputError
from adata_hf_datasets.io.reader import ChunkReader
from adata_hf_datasets.records import InputsSummary
from adata_hf_datasets.steps.validate import check_inputs, inspect_chunk, write_inspection
from tests.support.specs import settings
from tests.support.synthetic import ChunkRecipe, make_adata

GENE_LISTS = {"sentence_keys": ["sample_id_og", "cell_sentence"]}


def write(path: Path, adata) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    adata.write_zarr(path)
    return path


def gate(tmp_path: Path, layout: dict[str, list[Path]], **config) -> InputsSummary:
    """validate_chunk on every chunk, then check_inputs, as the workflow runs them."""
    s = settings(**config)
    chunks = {}
    for split, paths in layout.items():
        entries = []
        for path in paths:
            meta, report = inspect_chunk(path, s.inspection_spec())
            out = tmp_path / "results" / split / path.stem
            out.parent.mkdir(parents=True, exist_ok=True)
            write_inspection(
                meta,
                report,
                meta_path=out.with_suffix(".arrow"),
                report_path=out.with_suffix(".json"),
            )
            entries.append(
                (f"{split}/{path.stem}", out.with_suffix(".arrow"), out.with_suffix(".json"))
            )
        chunks[split] = entries
    return check_inputs(chunks, s.input_rules())


def chunk(tmp_path: Path, split: str, name: str, **recipe) -> Path:
    adata = make_adata(ChunkRecipe(**{"n_cells": 30, "seed": 1, **recipe}))
    return write(tmp_path / "data" / split / f"{name}.zarr", adata)


def test_the_same_cell_in_two_splits_is_a_leak_naming_both_splits(tmp_path):
    train = chunk(tmp_path, "train", "chunk_0", id_prefix="cell")
    val = chunk(tmp_path, "val", "chunk_0", id_prefix="cell", seed=2)
    with pytest.raises(InputError) as error:
        gate(tmp_path, {"train": [train], "val": [val]})
    message = str(error.value)
    assert "occur in more than one split (train, val)" in message
    assert "'cell_0' in ['train', 'val']" in message and "leaks" in message


def test_duplicates_inside_a_chunk_do_not_hide_those_across_chunks(tmp_path):
    first = chunk(tmp_path, "train", "chunk_0", id_prefix="a")
    adata = make_adata(ChunkRecipe(n_cells=30, seed=2, id_prefix="b"))
    adata.obs_names = ["b_0", "b_0", "a_5", *adata.obs_names[3:]]  # a repeat and one of chunk_0
    second = write(tmp_path / "data" / "train" / "chunk_1.zarr", adata)
    with pytest.raises(InputError) as error:
        gate(tmp_path, {"train": [first, second]})
    message = str(error.value)
    assert "not unique within the chunk" in message
    assert "'a_5' in ['train/chunk_0', 'train/chunk_1']" in message


def test_repeated_gene_names_are_an_error_naming_the_chunk_and_genes(tmp_path):
    adata = make_adata(ChunkRecipe(n_cells=30, seed=1))
    adata.var["gene_name"] = [f"G{j % 150}" for j in range(adata.n_vars)]
    path = write(tmp_path / "data" / "train" / "chunk_0.zarr", adata)
    with pytest.raises(InputError) as error:
        gate(tmp_path, {"train": [path]}, **GENE_LISTS)
    message = str(error.value)
    assert f"{path}: 150 gene name(s) occur more than once in var['gene_name']" in message
    assert "'G0'" in message and "gene_name_column" in message
    # ids-only sentences never name genes: no error
    gate(tmp_path, {"train": [path]})


def test_repeated_gene_names_outside_the_ranked_genes_are_fine(tmp_path):
    adata = make_adata(ChunkRecipe(n_cells=30, seed=1, highly_variable=True))
    names = np.array([f"G{j}" for j in range(adata.n_vars)], dtype=object)
    outside = np.flatnonzero(~adata.var["highly_variable"].to_numpy())
    names[outside] = "UNUSED"  # repeated, but never ranked
    adata.var["gene_name"] = names
    path = write(tmp_path / "data" / "train" / "chunk_0.zarr", adata)
    gate(tmp_path, {"train": [path]}, **GENE_LISTS)
    with pytest.raises(InputError, match="'UNUSED'"):
        gate(tmp_path, {"train": [path]}, use_highly_variable=False, **GENE_LISTS)


def test_a_chunk_file_missing_from_x_is_caught_without_reading_x(tmp_path, monkeypatch):
    import zarr

    adata = make_adata(ChunkRecipe(n_cells=400, n_genes=300, nnz_per_cell=40, seed=1))
    path = write(tmp_path / "data" / "train" / "chunk_0.zarr", adata)
    group = zarr.open_group(path / "X", mode="a")
    values = group["data"][...]  # store X's values in several chunk files, as big chunks are
    del group["data"]
    group.create_array("data", shape=values.shape, chunks=(2000,), dtype=values.dtype)
    group["data"][...] = values
    (path / "X" / "data" / "3").unlink()
    monkeypatch.setattr(ChunkReader, "row_blocks", lambda *a, **k: pytest.fail("validation read X"))
    with pytest.raises(InputError) as error:
        gate(tmp_path, {"train": [path]}, **GENE_LISTS)
    assert f"{path}: the expression matrix 'X' is incomplete" in str(error.value)
    assert "data: 1 of" in str(error.value) and "copy the chunk again" in str(error.value)


def test_a_gene_name_column_set_but_missing_is_an_error_listing_the_columns(tmp_path):
    path = chunk(tmp_path, "train", "chunk_0")
    with pytest.raises(InputError) as error:
        gate(tmp_path, {"train": [path]}, gene_name_column="symbol", **GENE_LISTS)
    message = str(error.value)
    assert f"{path}: var has no column 'symbol' (dataset_creation.gene_name_column)" in message
    assert "['gene_name']" in message


def test_the_default_gene_name_column_missing_falls_back_with_a_warning(tmp_path):
    adata = make_adata(ChunkRecipe(n_cells=30, seed=1))
    del adata.var["gene_name"]
    path = write(tmp_path / "data" / "train" / "chunk_0.zarr", adata)
    summary = gate(tmp_path, {"train": [path]}, **GENE_LISTS)
    (warning,) = summary.splits["train"].warnings
    assert warning.startswith("train/chunk_0: var has no column 'gene_name'")
    assert "gene names come from var.index" in warning


def test_missing_batches_and_captions_are_counted_and_warned(tmp_path):
    adata = make_adata(ChunkRecipe(n_cells=30, seed=1))
    adata.obs["batch"] = adata.obs["batch"].astype(object)
    adata.obs.iloc[[1, 4], adata.obs.columns.get_loc("batch")] = np.nan
    adata.obs.iloc[[2], adata.obs.columns.get_loc("caption")] = None
    path = write(tmp_path / "data" / "train" / "chunk_0.zarr", adata)
    info = gate(tmp_path, {"train": [path]}).splits["train"]
    assert (info.missing_batch, info.missing_caption) == (2, 1)
    batch_warning = next(w for w in info.warnings if "batch column" in w)
    assert "2 cell(s) have no value in the batch column 'batch'" in batch_warning
    assert "'cell_1'" in batch_warning and "batch of their own" in batch_warning
    with pytest.raises(InputError, match="on_missing_caption: drop"):
        gate(tmp_path, {"train": [path]}, on_missing_caption="error")


def test_a_split_too_small_for_negatives_is_named_with_a_fix_the_schema_accepts(tmp_path):
    train = chunk(tmp_path, "train", "chunk_0", id_prefix="t")
    val = chunk(tmp_path, "val", "chunk_0", id_prefix="v", n_cells=1)
    with pytest.raises(InputError) as error:
        gate(tmp_path, {"train": [train], "val": [val]})
    message = str(error.value)
    assert "split 'val' has 1 cell(s)" in message and "dataset_format: single" in message
    settings(dataset_format="single", caption_key=None)  # the fix is a valid config
    gate(tmp_path, {"train": [train], "val": [val]}, dataset_format="single", caption_key=None)


def test_a_missing_layer_lists_the_matrices_there_are(tmp_path):
    adata = make_adata(ChunkRecipe(n_cells=30, seed=1))
    adata.layers["counts"] = sp.csr_matrix(adata.X)
    path = write(tmp_path / "data" / "train" / "chunk_0.zarr", adata)
    with pytest.raises(InputError) as error:
        gate(tmp_path, {"train": [path]}, expression_matrix="raw_counts", **GENE_LISTS)
    assert "expression matrix 'raw_counts'" in str(error.value)
    assert "this chunk has ['X', 'counts']" in str(error.value)


def test_a_zarr_store_without_obs_says_so(tmp_path):
    path = chunk(tmp_path, "train", "chunk_0")
    shutil.rmtree(path / "obs")  # the consolidated metadata still lists it
    with pytest.raises(InputError) as error:
        gate(tmp_path, {"train": [path]})
    assert f"{path}: has no obs group" in str(error.value)
    assert "empty" not in str(error.value)
