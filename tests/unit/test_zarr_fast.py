"""The direct zarr decoders give exactly what zarr and anndata give, and can be switched off.

``io/zarr_fast.py`` decodes local zarr v2 chunk files itself (numcodecs, no zarr machinery).
Every reader is compared here with the library it stands in for: ``DirectArray`` with zarr's
own slicing, ``DirectCSR`` with ``anndata.io.sparse_dataset``, ``categorical_arrow`` with
``anndata.io.read_elem``, and ``ChunkReader.row_blocks`` with the fast path on and off
(``ADATA_HF_DATASETS_DIRECT_ZARR=0``). Shapes, chunk sizes, fill values and row ranges are
drawn from seeded generators; every draw is checked against the reference, never against
hard-coded values.
"""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numcodecs
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import scipy.sparse as sp
import zarr
from anndata.io import read_elem, sparse_dataset, write_elem

from adata_hf_datasets.io.reader import ChunkReader
from adata_hf_datasets.io.zarr_fast import (
    DIRECT_ZARR_VARIABLE,
    DirectArray,
    DirectCSR,
    DirectStrings,
    categorical_arrow,
    direct_zarr_enabled,
    read_strings,
)

pytestmark = [  # anndata's and zarr's notices about zarr v3 (one chunk here is written in v3)
    pytest.mark.filterwarnings("ignore:Writing zarr v2 data:UserWarning"),
    pytest.mark.filterwarnings("ignore:zarr v3 autosharding:UserWarning"),
    pytest.mark.filterwarnings("ignore:Consolidated metadata is currently not part"),
]


@pytest.fixture(autouse=True)
def direct_path_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts with the direct path on, whatever the calling shell sets."""
    monkeypatch.delenv(DIRECT_ZARR_VARIABLE, raising=False)


def switch_off(monkeypatch: pytest.MonkeyPatch, value: str = "0") -> None:
    monkeypatch.setenv(DIRECT_ZARR_VARIABLE, value)


# ---------------------------------------------------------------------- DirectArray

# What anndata writes for X (data), CSR indices (int32/int64, or the narrowest unsigned type
# with ``write_csr_csc_indices_with_min_possible_dtype``), indptr and categorical codes.
ARRAY_DTYPES = [
    np.float32,
    np.float64,
    np.int8,
    np.int32,
    np.int64,
    np.uint8,
    np.uint16,
    np.uint32,
    np.bool_,
]
COMPRESSORS = {
    "none": None,
    "blosc": "auto",  # what anndata and zarr use by default
    "zstd": numcodecs.Zstd(level=1),
    "gzip": numcodecs.GZip(level=1),
}


def random_values(rng: np.random.Generator, dtype: np.dtype, n: int) -> np.ndarray:
    if dtype.kind == "b":
        return rng.random(n) < 0.5
    if dtype.kind == "f":
        return (rng.standard_normal(n) * 1e3).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=n, endpoint=True, dtype=dtype)


def random_fill_value(rng: np.random.Generator, dtype: np.dtype, case: int):
    """None (zarr v2 allows a null fill value; zarr reads the dtype's default), zero, or not."""
    if case == 0:
        return None
    if case == 1:
        return dtype.type(0)
    return random_values(rng, dtype, 1)[0] if dtype.kind != "b" else np.True_


def interesting_ranges(rng: np.random.Generator, n: int, chunk: int) -> list[tuple[int, int]]:
    """Whole array, empty ranges, the last (partial) chunk, ranges around chunk boundaries
    (across one, starting or ending at one, starting and ending mid-chunk, spanning several
    chunks), then random ranges; in an order that mixes hits and misses of the reader's last
    decoded chunk."""
    ranges = [(0, n), (0, 0), (n, n), (n // 2, n // 2)]
    last_start = ((n - 1) // chunk) * chunk
    ranges += [(last_start, n), (n - 1, n), (max(last_start - 1, 0), n)]
    boundaries = list(range(chunk, n, chunk))
    picked = boundaries[:1] + boundaries[-1:]
    picked += rng.choice(boundaries, min(4, len(boundaries)), replace=False).tolist()
    for boundary in picked:
        ranges += [(boundary - 1, boundary + 1), (boundary, min(boundary + chunk, n))]
        ranges += [(max(boundary - chunk // 2 - 1, 0), min(boundary + 2 * chunk + 1, n))]
    for _ in range(6):
        lo = int(rng.integers(0, n + 1))
        ranges.append((lo, int(rng.integers(lo, n + 1))))
    order = rng.permutation(len(ranges))
    return [ranges[i] for i in order]


def write_partly(
    path: Path, rng: np.random.Generator, dtype: np.dtype, compressor, fill_case: int
) -> tuple[zarr.Array, int]:
    """A zarr v2 array of random length and chunk size, with some chunks never written.

    zarr does not write a chunk equal to the fill value; returns the array (opened read-only)
    and how many chunk files are missing."""
    n = int(rng.integers(1, 300))
    chunk = int(rng.integers(2, 50))
    fill_value = random_fill_value(rng, dtype, fill_case)
    array = zarr.create_array(
        path,
        shape=(n,),
        chunks=(chunk,),
        dtype=dtype,
        zarr_format=2,
        compressors=compressor,
        fill_value=fill_value,
    )
    values = random_values(rng, dtype, n)
    n_chunks = -(-n // chunk)
    for index in np.flatnonzero(rng.random(n_chunks) < 0.3):
        values[index * chunk : (index + 1) * chunk] = fill_value or 0
    array[...] = values
    missing = sum(not (path / str(index)).exists() for index in range(n_chunks))
    return zarr.open_array(path, mode="r"), missing


@pytest.mark.parametrize("dtype", ARRAY_DTYPES, ids=lambda d: np.dtype(d).name)
def test_direct_array_reads_exactly_what_zarr_reads(tmp_path: Path, dtype) -> None:
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(ARRAY_DTYPES.index(dtype.type))
    missing_chunks = partial_last_chunks = 0
    for trial in range(6):
        compressor = list(COMPRESSORS)[trial % len(COMPRESSORS)]
        array, missing = write_partly(
            tmp_path / f"a{trial}", rng, dtype, COMPRESSORS[compressor], fill_case=trial % 3
        )
        missing_chunks += missing
        n, chunk = array.shape[0], array.chunks[0]
        partial_last_chunks += n % chunk != 0
        direct = DirectArray.open(array)
        assert direct is not None  # the direct path is the one tested
        buffer = np.empty(n + 5, dtype=dtype)
        for lo, hi in interesting_ranges(rng, n, chunk):
            expected = array[lo:hi]
            got = direct.read(lo, hi)
            assert got.dtype == expected.dtype
            message = f"[{lo}:{hi}] of {n} in chunks of {chunk}, {compressor}"
            np.testing.assert_array_equal(got, expected, err_msg=message)
            # Into a caller's (larger) buffer, as DirectCSR's reused buffers are read.
            into = direct.read(lo, hi, out=buffer)
            assert np.shares_memory(into, buffer) or hi == lo
            np.testing.assert_array_equal(into, expected, err_msg=message)
    assert missing_chunks > 0  # unwritten chunks (the fill value) were read
    assert partial_last_chunks > 0


def test_chunks_never_written_read_as_the_fill_value(tmp_path: Path) -> None:
    for fill_value in (None, 0, 7):
        array = zarr.create_array(
            tmp_path / f"fill{fill_value}",
            shape=(50,),
            chunks=(10,),
            dtype=np.int32,
            zarr_format=2,
            fill_value=fill_value,
        )
        array[10:20] = np.arange(10, dtype=np.int32) + 100
        assert sorted(p.name for p in array_dir(array).iterdir() if p.name.isdigit()) == ["1"]
        direct = DirectArray.open(array)
        assert direct is not None
        expected = np.full(50, fill_value or 0, dtype=np.int32)  # null: the dtype's default
        expected[10:20] = np.arange(10) + 100
        np.testing.assert_array_equal(array[...], expected)  # zarr's own reading, as a check
        for lo, hi in [(0, 50), (5, 15), (20, 30), (19, 41), (45, 50)]:
            np.testing.assert_array_equal(direct.read(lo, hi), expected[lo:hi])


@pytest.mark.parametrize("fill_value", [None, "", "unknown"])
def test_direct_strings_read_unwritten_chunks_as_the_fill_value(
    tmp_path: Path, fill_value: str | None
) -> None:
    values = np.array([f"cell {i}" for i in range(23)], dtype=object)
    values[5:10] = fill_value or ""  # a whole chunk equal to the fill value: not written
    array = zarr.create_array(
        tmp_path / "names",
        shape=(23,),
        chunks=(5,),
        dtype=str,
        zarr_format=2,
        fill_value=fill_value,
    )
    array[...] = values
    assert not (array_dir(array) / "1").exists()
    assert DirectStrings.open(array) is not None
    assert DirectStrings.open(array).read_all().tolist() == array[...].tolist()
    assert read_strings(array).tolist() == values.tolist()


def array_dir(array: zarr.Array) -> Path:
    return Path(array.store_path.store.root) / array.store_path.path


def test_layouts_the_direct_readers_do_not_decode_go_to_zarr(tmp_path: Path) -> None:
    values = np.arange(50, dtype=np.int32)
    kinds = {
        "big_endian": {"dtype": ">i4", "zarr_format": 2},
        "filtered": {"dtype": "<i4", "zarr_format": 2, "filters": [numcodecs.Delta("<i4")]},
        "zarr_v3": {"dtype": "<i4", "zarr_format": 3},
    }
    for name, kwargs in kinds.items():
        array = zarr.create_array(tmp_path / name, shape=(50,), chunks=(7,), **kwargs)
        array[...] = values
        assert DirectArray.open(array) is None, name
    two_d = zarr.create_array(
        tmp_path / "two_d", shape=(5, 4), chunks=(2, 4), dtype="<i4", zarr_format=2
    )
    assert DirectArray.open(two_d) is None
    strings = zarr.create_array(
        tmp_path / "strings_v3", shape=(3,), chunks=(2,), dtype=str, zarr_format=3
    )
    strings[...] = np.array(["a", "b", "c"], dtype=object)
    assert DirectStrings.open(strings) is None
    assert read_strings(strings).tolist() == ["a", "b", "c"]  # through zarr


# ---------------------------------------------------------------------- DirectCSR


def write_anndata(path: Path, adata: ad.AnnData, *, chunk: int | None) -> None:
    """Written by anndata: ``write_zarr`` (its default chunks), or ``write_elem`` with 1-D
    chunks of ``chunk`` elements (X's data, indices and indptr span many chunk files)."""
    if chunk is None:
        adata.write_zarr(path)
        return
    write_elem(
        zarr.open_group(path, mode="w", zarr_format=2),
        "/",
        adata,
        dataset_kwargs={"chunks": (chunk,)},
    )


def random_csr(rng: np.random.Generator, n_obs: int, n_vars: int, dtype) -> sp.csr_matrix:
    """Random sparsity per row (some rows empty), an all-zero run of rows, random values."""
    dense = np.zeros((n_obs, n_vars), dtype=dtype)
    density = rng.random(n_obs) * rng.choice([0.05, 0.3, 0.9])
    density[rng.random(n_obs) < 0.15] = 0  # empty rows
    if n_obs > 20:
        zero_start = int(rng.integers(0, n_obs - 10))
        density[zero_start : zero_start + 10] = 0  # a block with no nonzero at all
    mask = rng.random((n_obs, n_vars)) < density[:, None]
    values = random_values(rng, np.dtype(dtype), int(mask.sum()))
    values[values == 0] = 1
    dense[mask] = values
    return sp.csr_matrix(dense)


def row_slices(rng: np.random.Generator, n_obs: int) -> list[tuple[int, int]]:
    block = int(rng.integers(1, max(n_obs // 3, 1) + 1))
    slices = [(start, min(start + block, n_obs)) for start in range(0, n_obs, block)]
    slices += [(0, n_obs), (0, 0), (n_obs, n_obs), (n_obs - 1, n_obs)]
    for _ in range(4):
        start = int(rng.integers(0, n_obs + 1))
        slices.append((start, int(rng.integers(start, n_obs + 1))))
    return slices


def assert_same_csr(got, expected) -> None:
    assert sp.issparse(got)
    assert got.format == "csr"
    assert type(got) is type(expected)
    assert got.shape == expected.shape
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got.indptr, expected.indptr)
    np.testing.assert_array_equal(got.indices, expected.indices)
    np.testing.assert_array_equal(got.data, expected.data)


CSR_CASES = {
    # name: (n_obs, n_vars, data dtype, chunk elements or None, narrowest index dtype)
    "float32_default_chunks": (120, 300, np.float32, None, False),
    "float32_small_chunks": (150, 80, np.float32, 97, False),
    "float64_uint8_indices": (90, 200, np.float64, 61, True),
    "int32_counts_uint16_indices": (60, 400, np.int32, 500, True),
    "int64_values": (70, 50, np.int64, 40, False),
    "one_row": (1, 40, np.float32, 5, False),
    "one_row_default_chunks": (1, 40, np.float32, None, False),
}


@pytest.mark.parametrize("case", list(CSR_CASES))
def test_direct_csr_rows_equal_anndata_sparse_dataset(tmp_path: Path, case: str) -> None:
    n_obs, n_vars, dtype, chunk, narrow = CSR_CASES[case]
    rng = np.random.default_rng(list(CSR_CASES).index(case))
    matrix = random_csr(rng, n_obs, n_vars, dtype)
    path = tmp_path / "chunk.zarr"
    with ad.settings.override(write_csr_csc_indices_with_min_possible_dtype=narrow):
        write_anndata(path, ad.AnnData(X=matrix), chunk=chunk)
    group = zarr.open_group(path, mode="r")["X"]
    reference = sparse_dataset(group)
    direct = DirectCSR.open(group)
    assert direct is not None
    for start, stop in row_slices(rng, n_obs):
        expected = reference[start:stop]
        assert_same_csr(direct[start:stop], expected)
        np.testing.assert_array_equal(expected.toarray(), matrix[start:stop].toarray())


@pytest.mark.parametrize("chunk", [None, 33])
def test_direct_csr_of_an_all_zero_matrix(tmp_path: Path, chunk: int | None) -> None:
    path = tmp_path / "zeros.zarr"
    write_anndata(path, ad.AnnData(X=sp.csr_matrix((25, 10), dtype=np.float32)), chunk=chunk)
    group = zarr.open_group(path, mode="r")["X"]
    direct = DirectCSR.open(group)
    assert direct is not None
    for start, stop in [(0, 25), (3, 9), (24, 25), (7, 7)]:
        assert_same_csr(direct[start:stop], sparse_dataset(group)[start:stop])


def test_reused_buffers_give_the_same_blocks_each_valid_until_the_next_read(
    user_chunks: dict,
) -> None:
    group = zarr.open_group(user_chunks["small_chunks"][0], mode="r")["X"]
    n_obs = group.attrs["shape"][0]
    reference = sparse_dataset(group)
    direct = DirectCSR.open(group)
    direct.reuse_buffers = True
    previous, reused = None, 0
    for block_size in (17, 64, 40):  # buffers grow, then smaller blocks fit in them
        for start in range(0, n_obs, block_size):
            stop = min(start + block_size, n_obs)
            block = direct[start:stop]
            assert_same_csr(block, reference[start:stop])
            if previous is not None and np.shares_memory(block.data, previous.data):
                reused += 1  # the same buffer (scipy copies a block under half its size)
            previous = block
    assert reused >= 5  # the buffers are really reused

    # Without reuse, a block owns its arrays: later reads leave it as it was.
    direct.reuse_buffers = False
    first = direct[0:40]
    kept = first.copy()
    for start in range(40, n_obs, 40):
        direct[start : start + 40]
    assert_same_csr(first, kept)


# ---------------------------------------------------------------------- ChunkReader.row_blocks


@pytest.fixture(scope="module")
def x_chunks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, np.ndarray]]:
    """Chunks whose X is CSR, CSC or dense, each over several chunk files, and a CSR X in
    zarr v3 (read by anndata: the direct readers only decode v2); with X dense."""
    matrix = random_csr(np.random.default_rng(5), 130, 70, np.float32)
    chunks = {}
    for kind in ("csr", "csc", "dense", "csr_zarr_v3"):
        path = tmp_path_factory.mktemp(kind) / "chunk_0.zarr"
        if kind == "dense":
            ad.AnnData(X=matrix.toarray()).write_zarr(path, chunks=(16, 70))
        elif kind == "csr_zarr_v3":
            with ad.settings.override(zarr_write_format=3):
                ad.AnnData(X=matrix).write_zarr(path)
        else:
            x = matrix if kind == "csr" else matrix.tocsc()
            write_anndata(path, ad.AnnData(X=x), chunk=211)
        chunks[kind] = (path, matrix.toarray())
    return chunks


def collect_blocks(path: Path, *, block_size: int, reuse_buffers: bool) -> list:
    """Each block copied as it comes (a reused buffer is valid until the next block)."""
    with ChunkReader(path) as reader:
        return [
            (start, stop, block.copy())
            for start, stop, block in reader.row_blocks(
                "X", block_size=block_size, reuse_buffers=reuse_buffers
            )
        ]


def assert_same_blocks(got: list, expected: list) -> None:
    assert [(start, stop) for start, stop, _ in got] == [(s, e) for s, e, _ in expected]
    for (_, _, block), (_, _, reference) in zip(got, expected, strict=True):
        if sp.issparse(reference):
            assert_same_csr(block, reference)
        else:
            assert not sp.issparse(block)
            assert block.dtype == reference.dtype
            np.testing.assert_array_equal(block, reference)


@pytest.mark.parametrize("reuse_buffers", [False, True])
@pytest.mark.parametrize("kind", ["csr", "csc", "dense", "csr_zarr_v3"])
def test_row_blocks_are_the_same_with_the_direct_path_on_and_off(
    x_chunks: dict, monkeypatch: pytest.MonkeyPatch, kind: str, reuse_buffers: bool
) -> None:
    path, dense = x_chunks[kind]
    with ChunkReader(path) as reader:
        assert (DirectCSR.open(reader.root["X"]) is not None) == (kind == "csr")
    blocks_on = collect_blocks(path, block_size=24, reuse_buffers=reuse_buffers)
    switch_off(monkeypatch)
    with ChunkReader(path) as reader:
        assert DirectCSR.open(reader.root["X"]) is None
    blocks_off = collect_blocks(path, block_size=24, reuse_buffers=reuse_buffers)
    assert_same_blocks(blocks_on, blocks_off)
    for start, stop, block in blocks_off:
        if kind != "dense":
            assert block.format == "csr"  # CSC is converted to CSR rows as well
        as_dense = block.toarray() if sp.issparse(block) else block
        np.testing.assert_array_equal(as_dense, dense[start:stop])


# ---------------------------------------------------------------------- categoricals


def categorical_obs(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Categoricals of strings (with many categories: wider codes), ints, floats and bools,
    each with missing values (code -1)."""

    def with_missing(values: list) -> list:
        return [None if rng.random() < 0.1 else v for v in values]

    many = [f"type {i}" for i in range(300)]
    return pd.DataFrame(
        {
            "strings": pd.Categorical(with_missing(rng.choice(["T", "B", "", " NK "], n).tolist())),
            "many_strings": pd.Categorical(with_missing(rng.choice(many, n).tolist())),
            "integers": pd.Categorical(with_missing(rng.integers(-3, 5, n).tolist())),
            "floats": pd.Categorical(with_missing((rng.integers(0, 6, n) / 4).tolist())),
            "booleans": pd.Categorical(with_missing((rng.random(n) < 0.5).tolist())),
            "all_missing": pd.Categorical([None] * n, categories=["never"]),
        },
        index=[f"cell_{i}" for i in range(n)],
    )


def assert_same_categorical(got: pa.Array, expected: pd.Categorical) -> None:
    assert pa.types.is_dictionary(got.type)
    codes = np.asarray(expected.codes)
    assert got.indices.is_null().to_numpy(zero_copy_only=False).tolist() == (codes < 0).tolist()
    assert got.indices.fill_null(-1).to_numpy().tolist() == codes.tolist()
    # Categories as text: strings as they are, numbers as Python prints them.
    assert got.dictionary.to_pylist() == [str(c) for c in expected.categories.tolist()]
    assert got.cast(pa.string()).to_pylist() == [
        None if c < 0 else str(expected.categories[c]) for c in codes
    ]


@pytest.fixture(scope="module")
def user_chunks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, pd.DataFrame]]:
    """A user's chunk (CSR X, categorical obs) as ``write_zarr`` writes it, and with every
    1-D array in chunks of 64 elements (codes, names and X's arrays over many chunk files)."""
    rng = np.random.default_rng(3)
    obs = categorical_obs(rng, 300)
    adata = ad.AnnData(X=random_csr(rng, 300, 60, np.float32), obs=obs)
    chunks = {}
    for layout, chunk in (("default_chunks", None), ("small_chunks", 64)):
        path = tmp_path_factory.mktemp(layout) / "chunk_0.zarr"
        write_anndata(path, adata.copy(), chunk=chunk)
        chunks[layout] = (path, obs)
    return chunks


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "switched_off"])
@pytest.mark.parametrize("layout", ["default_chunks", "small_chunks"])
def test_categorical_arrow_equals_anndata_read_elem(
    user_chunks: dict, monkeypatch: pytest.MonkeyPatch, layout: str, direct: bool
) -> None:
    path, obs = user_chunks[layout]
    if not direct:
        switch_off(monkeypatch)
    root = zarr.open_group(path, mode="r")
    for column in obs.columns:
        group = root[f"obs/{column}"]
        assert (DirectArray.open(group["codes"]) is not None) == direct
        expected = read_elem(group)
        assert isinstance(expected, pd.Categorical)
        assert (expected.codes < 0).any()  # the missing codes are exercised
        assert_same_categorical(categorical_arrow(group), expected)
    if layout == "small_chunks":
        assert root["obs/many_strings/codes"].nchunks > 1


# ---------------------------------------------------------------------- the switch


@pytest.mark.parametrize("value", ["0", "false", "OFF", " no "])
def test_the_environment_variable_switches_every_direct_reader_off(
    user_chunks: dict, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    root = zarr.open_group(user_chunks["default_chunks"][0], mode="r")
    elements = (root["X/data"], root["obs/strings/codes"])
    assert direct_zarr_enabled()
    assert all(DirectArray.open(element) is not None for element in elements)
    assert DirectStrings.open(root["obs/_index"]) is not None
    assert DirectCSR.open(root["X"]) is not None

    switch_off(monkeypatch, value)
    assert not direct_zarr_enabled()
    assert all(DirectArray.open(element) is None for element in elements)
    assert DirectStrings.open(root["obs/_index"]) is None
    assert DirectCSR.open(root["X"]) is None


@pytest.mark.parametrize("value", ["", "1", "true", "yes"])
def test_other_values_of_the_variable_keep_the_direct_path(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    switch_off(monkeypatch, value)
    assert direct_zarr_enabled()


@pytest.mark.parametrize("layout", ["default_chunks", "small_chunks"])
def test_switched_off_reader_never_decodes_a_chunk_file_and_reads_the_same(
    user_chunks: dict, monkeypatch: pytest.MonkeyPatch, layout: str
) -> None:
    path, obs = user_chunks[layout]

    def read_everything() -> tuple:
        with ChunkReader(path) as reader:
            names = reader.obs_names_arrow().to_pylist()
            columns = {c: reader.obs_arrow(c).cast(pa.string()).to_pylist() for c in obs}
        return names, columns, collect_blocks(path, block_size=64, reuse_buffers=True)

    names_on, columns_on, blocks_on = read_everything()

    def no_direct_read(*args, **kwargs):
        raise AssertionError("a chunk file was decoded directly with the switch off")

    switch_off(monkeypatch)
    monkeypatch.setattr(DirectArray, "read", no_direct_read)
    monkeypatch.setattr(DirectStrings, "read_all", no_direct_read)
    names_off, columns_off, blocks_off = read_everything()

    assert names_off == names_on == obs.index.tolist()
    assert columns_off == columns_on
    assert_same_blocks(blocks_off, blocks_on)
