"""The split index: concatenation, pool positions, sorted codes, the memory-mapped file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from adata_hf_datasets.steps.split_index import (
    INDEX_COLUMNS,
    chunk_names,
    index_table,
    pool_index_rows,
    read_index,
    write_index,
)


def meta(ids: list[str], captions: list, batches: list) -> pa.Table:
    return pa.table(
        {
            "sample_idx": pa.array(ids, pa.string()),
            "caption": pa.array(captions, pa.string()),
            "batch": pa.array(batches, pa.string()),
        }
    )


CHUNKS = [
    ("chunk_0", meta(["a", "b", "c"], ["zeta", None, "alpha"], ["b2", "b1", None])),
    ("chunk_1", meta(["d", "e"], ["émile", "alpha"], ["b1", "b2"])),
]


def test_columns_rows_and_pool_positions() -> None:
    table = index_table(CHUNKS, needs_captions=True)
    assert tuple(table.column_names) == INDEX_COLUMNS
    assert table.column("sample_idx").to_pylist() == ["a", "b", "c", "d", "e"]
    assert chunk_names(table).tolist() == ["chunk_0"] * 3 + ["chunk_1"] * 2
    assert table.column("row").to_pylist() == [0, 1, 2, 0, 1]
    # "b" has no caption: out of the pool; the others are numbered in index order
    assert table.column("pool_pos").to_pylist() == [0, -1, 1, 2, 3]
    assert pool_index_rows(table).tolist() == [0, 2, 3, 4]


def test_every_cell_is_in_the_pool_without_captions() -> None:
    table = index_table(CHUNKS, needs_captions=False)
    assert table.column("pool_pos").to_pylist() == [0, 1, 2, 3, 4]
    assert pool_index_rows(table) is None


def test_codes_follow_the_sorted_values_not_the_chunk_order() -> None:
    forward = index_table(CHUNKS, needs_captions=True)
    backward = index_table(CHUNKS[::-1], needs_captions=True)
    for table in (forward, backward):
        captions = table.column("caption").to_pylist()
        codes = table.column("caption_code").to_pylist()
        # missing counts as "", which sorts first; then code point order (é after z)
        ranking = sorted({c or "" for c in captions})
        assert codes == [ranking.index(c or "") for c in captions]
        batches = table.column("batch").to_pylist()
        assert table.column("batch_code").to_pylist() == [
            sorted({b or "" for b in batches}).index(b or "") for b in batches
        ]


def test_text_columns_are_dictionary_encoded_and_keep_missing_values() -> None:
    table = index_table(CHUNKS, needs_captions=True)
    for name in ("caption", "batch", "chunk"):
        assert pa.types.is_dictionary(table.schema.field(name).type)
    assert table.column("caption").to_pylist() == ["zeta", None, "alpha", "émile", "alpha"]
    assert table.column("batch").to_pylist() == ["b2", "b1", None, "b1", "b2"]


def test_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "train.arrow"
    table = index_table(CHUNKS, needs_captions=True)
    write_index(table, path)
    assert read_index(path).equals(table)
    assert pool_index_rows(read_index(path)).tolist() == [0, 2, 3, 4]
    assert not list(tmp_path.glob(".*partial"))  # written atomically


def test_write_index_leaves_nothing_on_failure(tmp_path: Path) -> None:
    path = tmp_path / "train.arrow"
    with pytest.raises(AttributeError):
        write_index("not a table", path)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_an_empty_chunk_list_gives_an_empty_index() -> None:
    table = index_table([], needs_captions=True)
    assert table.num_rows == 0
    assert tuple(table.column_names) == INDEX_COLUMNS


def test_a_million_cells_map_without_reading_the_text(tmp_path: Path) -> None:
    # The shard job's access pattern: take a few rows of a big mapped index.
    n = 1_000_000
    ids = pa.array(np.char.add("cell", np.arange(n).astype(str)).astype(object), pa.string())
    big = pa.table({"sample_idx": ids, "caption": ids, "batch": pa.nulls(n, pa.string())})
    path = tmp_path / "big.arrow"
    write_index(index_table([("chunk_0", big)], needs_captions=True), path)
    before = pa.total_allocated_bytes()
    mapped = read_index(path)
    taken = mapped.column("sample_idx").take(pa.array([5, 999_999]))
    assert taken.to_pylist() == ["cell5", "cell999999"]
    assert pa.total_allocated_bytes() - before < 1 << 20  # mapped: nothing of ~30 MB is copied


def test_split_info_counts_pool_captions_and_batches(tmp_path: Path) -> None:
    from adata_hf_datasets.io.files import write_table
    from adata_hf_datasets.records import SplitInfo
    from adata_hf_datasets.steps.split_index import build_split_index

    entries = []
    for name, table in CHUNKS:
        write_table(table, tmp_path / f"{name}.arrow")
        entries.append((name, tmp_path / f"{name}.arrow"))
    _, info = build_split_index(entries, needs_captions=True)
    assert info == SplitInfo(
        cells=5,
        pool=4,
        dropped_missing_caption=1,
        batches=3,  # b1, b2 and the missing batch
        captions=3,  # zeta, alpha, émile: the missing one is not a caption
        chunks=("chunk_0", "chunk_1"),
    )


def test_stored_negative_pool_samples_exactly_like_a_fresh_one(tmp_path: Path) -> None:
    from adata_hf_datasets.core.negatives import NegativePool, chunk_rng, sample_negatives
    from adata_hf_datasets.steps.split_index import (
        negative_pool,
        read_negative_pool,
        write_negative_pool,
    )

    rng = np.random.default_rng(5)
    n = 3000
    big = meta(
        [f"c{i}" for i in range(n)],
        [None if i % 97 == 0 else f"caption {c}" for i, c in enumerate(rng.integers(0, 40, n))],
        [f"b{b}" for b in rng.integers(0, 4, n)],
    )
    index = index_table([("chunk_0", big)], needs_captions=True)
    fresh = negative_pool(index)
    write_negative_pool(fresh, tmp_path / "pool.arrow")
    before = pa.total_allocated_bytes()
    stored = read_negative_pool(tmp_path / "pool.arrow")
    assert pa.total_allocated_bytes() - before < 4096  # mapped, not copied
    assert (stored.n, stored.n_batches, stored.n_captions) == (
        fresh.n,
        fresh.n_batches,
        fresh.n_captions,
    )
    anchors = np.arange(fresh.n)
    expected = sample_negatives(fresh, anchors, k=5, rng=chunk_rng(1, "train", "chunk_0"))
    got = sample_negatives(stored, anchors, k=5, rng=chunk_rng(1, "train", "chunk_0"))
    np.testing.assert_array_equal(got[0], expected[0])
    assert got[1] == expected[1]
    assert isinstance(stored, NegativePool)


def test_a_pool_file_from_elsewhere_is_refused(tmp_path: Path) -> None:
    from adata_hf_datasets.core.negatives import NegativePool
    from adata_hf_datasets.io.files import write_table
    from adata_hf_datasets.steps.split_index import read_negative_pool

    write_table(pa.table({"x": [1]}), tmp_path / "other.arrow")
    with pytest.raises(ValueError, match="not a negative pool file"):
        read_negative_pool(tmp_path / "other.arrow")
    arrays = NegativePool(np.array([0, 1]), np.array([0, 1])).arrays()
    arrays["rank_a"] = arrays["rank_a"].astype(np.int64)
    with pytest.raises(ValueError, match="'rank_a' must be int32"):
        NegativePool.from_arrays(arrays, n_batches=2, n_captions=2)


def test_chunk_pool_rows_reads_the_chunk_slice() -> None:
    from adata_hf_datasets.steps.split_index import chunk_pool_rows

    table = index_table(CHUNKS, needs_captions=True)
    positions, rows = chunk_pool_rows(table, "chunk_0")
    assert positions.tolist() == [0, 1] and rows.tolist() == [0, 2]  # "b" has no caption
    positions, rows = chunk_pool_rows(table, "chunk_1")
    assert positions.tolist() == [2, 3] and rows.tolist() == [0, 1]
    assert chunk_pool_rows(table, "chunk_7")[0].size == 0
