"""Columns of each format, in order, and the rows the shard builder makes."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from adata_hf_datasets.core.formats import FormatSpec
from adata_hf_datasets.core.rows import RowCounts, ShardInputs, shard_batches


@pytest.mark.parametrize(
    ("spec", "columns"),
    [
        (
            FormatSpec("multiplets", 2, 4),
            [
                "sample_idx",
                "cell_sentence_1",
                "cell_sentence_2",
                "positive",
                "negative_1_idx",
                "negative_2_idx",
                "negative_3_idx",
                "negative_4_idx",
                "adata_link",
            ],
        ),
        (
            FormatSpec("multiplets", 1, 2, resolve_negatives=True),
            [
                "sample_idx",
                "cell_sentence_1",
                "positive",
                "negative_1_idx",
                "negative_1",
                "negative_2_idx",
                "negative_2",
                "adata_link",
            ],
        ),
        (
            FormatSpec("pairs", 1, 1),
            ["sample_idx", "cell_sentence_1", "caption", "label", "adata_link"],
        ),
        (
            FormatSpec("single", 3),
            ["sample_idx", "cell_sentence_1", "cell_sentence_2", "cell_sentence_3", "adata_link"],
        ),
    ],
)
def test_column_order_and_types(spec, columns):
    assert spec.column_names() == columns
    features = spec.features()
    assert list(features) == columns
    for name, feature in features.items():
        assert feature.dtype == ("float32" if name == "label" else "string")


def _inputs(negatives, captions=("a", "b", "a", "c")):
    ids = pa.array([f"id{i}" for i in range(4)])
    return ShardInputs(
        sentences=pa.table({"s": pa.array([f"sent{i}" for i in range(4)])}),
        sample_idx=ids,
        captions=pa.array(list(captions)),
        anchor_rows=np.array([0, 1, 3]),
        link="/x/chunk_0.zarr",
        negatives=np.asarray(negatives),
        pool_ids=ids,
        pool_captions=pa.array(list(captions)),
        resolve_sentence=lambda pos: pa.array([f"sent{p}" for p in pos]),
    )


def test_multiplets_rows_map_pool_positions_to_ids_and_resolve():
    spec = FormatSpec("multiplets", 1, 2, resolve_negatives=True)
    stats = RowCounts()
    table = pa.Table.from_batches(
        list(shard_batches(spec, _inputs([[1, 2], [0, 3], [2, 1]]), stats))
    )
    assert table.column("sample_idx").to_pylist() == ["id0", "id1", "id3"]
    assert table.column("negative_1_idx").to_pylist() == ["id1", "id0", "id2"]
    assert table.column("negative_1").to_pylist() == ["b", "a", "a"]
    assert table.column("negative_2").to_pylist() == ["sent2", "sent3", "sent1"]
    assert table.column("adata_link").to_pylist() == ["/x/chunk_0.zarr"] * 3
    assert stats.rows == 3


def test_pairs_rows_are_the_positive_then_one_row_per_negative_and_missing_ones_skipped():
    spec = FormatSpec("pairs", 1, 3)
    stats = RowCounts()
    # every column brings a caption new to its row; -1: no caption left (no row)
    negatives = [[1, 3, -1], [0, 3, -1], [1, 0, -1]]
    table = pa.Table.from_batches(list(shard_batches(spec, _inputs(negatives), stats)))
    rows = list(
        zip(
            table.column("sample_idx").to_pylist(),
            table.column("caption").to_pylist(),
            table.column("label").to_pylist(),
            strict=True,
        )
    )
    assert rows == [
        ("id0", "a", 1.0),
        ("id0", "b", 0.0),
        ("id0", "c", 0.0),
        ("id1", "b", 1.0),
        ("id1", "a", 0.0),
        ("id1", "c", 0.0),
        ("id3", "c", 1.0),
        ("id3", "b", 0.0),
        ("id3", "a", 0.0),
    ]
    assert stats.pairs_negative_rows_skipped == 3
    assert table.schema.field("label").type == pa.float32()
