"""Reading obs text from real zarr and h5ad chunks: the Arrow readers give what anndata gives.

The validation and sentence jobs read obs columns straight from zarr as Arrow arrays (no
anndata, no Python object per cell). Every kind of obs column a user's AnnData can hold is written
with anndata itself and read back both ways.
"""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from adata_hf_datasets.core.text import as_text, missing_text, text_array
from adata_hf_datasets.io.reader import ChunkReader

N = 8


def user_obs() -> pd.DataFrame:
    index = [f"cell_{i}" for i in range(N)]
    return pd.DataFrame(
        {
            # categorical with a missing value (code -1) and a blank category
            "caption": pd.Categorical(["a b", None, "  ", "a b", "c", "c", "", "a b"]),
            "ordered": pd.Categorical(["lo", "hi"] * 4, categories=["lo", "hi"], ordered=True),
            "int_categories": pd.Categorical([3, 1, 2, 3, 1, 2, 3, 1]),
            "text": np.array(["x", None, "", " y ", "z", np.nan, "w", "v"], dtype=object),
            "integer": np.arange(N, dtype=np.int64) * 10,
            "floating": np.array([0.5, 1.0, np.nan, 2.0, 3.25, 4.0, 5.0, 6.0]),
            "flag": np.array([True, False] * 4),
        },
        index=index,
    )


@pytest.fixture(scope="module", params=[".zarr", ".h5ad"])
def chunk(request, tmp_path_factory) -> Path:
    adata = ad.AnnData(X=np.zeros((N, 2), dtype=np.float32), obs=user_obs())
    path = tmp_path_factory.mktemp("chunk") / f"chunk_0{request.param}"
    if request.param == ".zarr":
        adata.write_zarr(path)
    else:
        adata.write_h5ad(path)
    return path


def reference_text(path: Path, column: str) -> list:
    """The column as anndata reads it, through the package's Python-level conversion."""
    adata = ad.read_zarr(path) if path.suffix == ".zarr" else ad.read_h5ad(path)
    return list(as_text(adata.obs[column].to_numpy() if column else np.asarray(adata.obs_names)))


@pytest.mark.parametrize(
    "column", ["caption", "ordered", "int_categories", "text", "integer", "floating", "flag"]
)
def test_obs_arrow_gives_what_anndata_gives(chunk: Path, column: str) -> None:
    with ChunkReader(chunk) as reader:
        values = reader.obs_arrow(column)
    assert values.cast(pa.string()).to_pylist() == reference_text(chunk, column)


def test_categorical_stays_a_dictionary_in_zarr(tmp_path: Path) -> None:
    chunk = tmp_path / "chunk_0.zarr"
    ad.AnnData(X=np.zeros((N, 2), dtype=np.float32), obs=user_obs()).write_zarr(chunk)
    with ChunkReader(chunk) as reader:
        values = reader.obs_arrow("caption")
    assert pa.types.is_dictionary(values.type)
    assert values.null_count == 1


def test_obs_names_arrow(chunk: Path) -> None:
    with ChunkReader(chunk) as reader:
        names = reader.obs_names_arrow()
    assert names.type == pa.string()
    assert names.to_pylist() == reference_text(chunk, "")


def python_missing(values: list) -> list[bool]:
    """The rule, spelled out: missing (None) or nothing but whitespace."""
    return [v is None or not str(v).strip() for v in values]


@pytest.mark.parametrize("column", ["caption", "text", "floating"])
def test_missing_text_matches_the_rule(chunk: Path, column: str) -> None:
    with ChunkReader(chunk) as reader:
        values = reader.obs_arrow(column)
    expected = python_missing(values.cast(pa.string()).to_pylist())
    assert missing_text(values).tolist() == expected
    assert any(expected)  # the fixture has missing values in each of these columns


def test_missing_text_of_dictionary_with_only_nulls_or_no_blanks() -> None:
    only_nulls = pa.DictionaryArray.from_arrays(
        pa.array([None, None], pa.int32()), pa.array([], pa.string())
    )
    assert missing_text(only_nulls).tolist() == [True, True]
    no_blank = pa.DictionaryArray.from_arrays(pa.array([1, None, 0], pa.int32()), ["a", "b"])
    assert missing_text(no_blank).tolist() == [False, True, False]


def test_text_array_converts_numbers_and_mixed_objects_like_as_text() -> None:
    mixed = np.array(["a", 1, None, 2.5, np.nan], dtype=object)
    assert text_array(mixed).to_pylist() == list(as_text(mixed))
    assert text_array(np.array([1, 2])).to_pylist() == ["1", "2"]
    assert text_array(np.array(["u", "v"])).to_pylist() == ["u", "v"]


@pytest.mark.parametrize("compressors", ["auto", None])
def test_direct_string_decoding_matches_zarr(tmp_path: Path, compressors) -> None:
    import zarr

    from adata_hf_datasets.io.zarr_fast import DirectStrings, read_strings

    values = np.array([f"id{i}" * (i % 3) for i in range(1003)], dtype=object)
    values[300:400] = ""  # a whole chunk of fill values: zarr may not write its file
    array = zarr.create_array(
        tmp_path / "names",
        shape=values.shape,
        chunks=(100,),
        dtype=str,
        zarr_format=2,
        compressors=compressors,
    )
    array[...] = values
    assert DirectStrings.open(array) is not None  # the direct path is the one tested
    assert read_strings(array).tolist() == values.tolist()


def test_member_names_are_sorted_whatever_order_the_store_lists(
    tmp_path: Path, monkeypatch
) -> None:
    """A zarr store lists its members in the file system's order, which differs between machines
    (a SLURM node and a laptop): the validation record written from them must not."""
    import zarr

    adata = ad.AnnData(X=np.zeros((N, 2), dtype=np.float32), obs=user_obs())
    adata.obsm["X_pca"] = np.zeros((N, 2), dtype=np.float32)
    adata.obsm["X_umap"] = np.zeros((N, 2), dtype=np.float32)
    path = tmp_path / "chunk_0.zarr"
    adata.write_zarr(path)
    listed = zarr.Group.keys
    monkeypatch.setattr(zarr.Group, "keys", lambda group: iter(sorted(listed(group), reverse=True)))
    reader = ChunkReader(path)
    try:
        assert reader.obsm_keys == ["X_pca", "X_umap"]
        assert reader.obs_columns == sorted(user_obs().columns)
    finally:
        reader.close()
