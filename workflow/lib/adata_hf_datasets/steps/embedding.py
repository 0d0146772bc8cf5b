"""index_split_embedding: a split's cells in an embedding, built once for the jobs that need it.

The negatives jobs (when mining) and the negative-quality job need every cell of the split:
its unit vector in ``obsm[key]``, its annotation and its positive reference (its similarity to
the centroid of the other cells with its caption). This step reads them from the chunks once
per split and writes them as memory-mappable files, so that no per-chunk job grows with the
split:

``{split}.vectors.npy``  the unit vectors (float32) in *slot* order: by list of the mining
                         index, then batch, then pool position (a list's cells of one batch
                         are one contiguous slice)
``{split}.cells.arrow``  per pool position: ``slot``, ``reference``, ``annotation`` (-1: none);
                         per slot: ``member`` (its pool position)
``{split}.lists.npz``    the mining index's lists (directions, radii, segments)

Without mining the index has a single list (no clustering), and without an embedding (no
``required_obsm_keys``) the vectors have no column: the report then gives fractions only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..core.hard_negatives import MiningIndex, build_mining_index
from ..core.negative_quality import positive_references, unit_rows
from ..core.negatives import NegativePool
from ..core.text import missing_text, plain_text
from ..errors import InputError
from ..io.files import atomic_path, read_table, write_npz, write_table
from ..io.reader import ChunkReader
from .split_index import pool_rows_by_chunk, read_index, read_negative_pool

__all__ = [
    "SplitEmbedding",
    "build_split_embedding",
    "read_split_embedding",
    "split_embedding_of",
]

_METADATA = b"adata_hf_datasets.split_embedding"


@dataclass(frozen=True)
class SplitEmbedding:
    """A split's cells in an embedding (see the module docstring); arrays memory-mapped."""

    key: str | None
    annotation_key: str | None
    without_direction: int
    index: MiningIndex
    references: np.ndarray
    """Positive reference by pool position (NaN: the only cell of its caption)."""
    annotations: np.ndarray | None
    """Annotation code by pool position (-1: none); None without an annotation column."""

    @property
    def vectors(self) -> np.ndarray:
        """Unit vectors in slot order: the vector of pool position ``p`` is row ``slots[p]``."""
        return self.index.vectors

    @property
    def slots(self) -> np.ndarray:
        return self.index.slots


def _vectors_by_position(
    chunks: Sequence[tuple[str, Path]], index: dict, n: int, key: str, scratch: Path
) -> tuple[np.ndarray, int]:
    """Unit vectors of the pool's cells, by pool position, in a memory-mapped scratch file."""
    vectors = None
    without_direction = 0
    for name, path in chunks:
        positions, rows = index[name]
        with ChunkReader(path) as reader:
            if key not in reader.obsm_keys:
                raise InputError(
                    f"{path}: obsm key '{key}' not found (present: {reader.obsm_keys}); add it "
                    "to the chunks, or name another embedding in dataset_creation."
                    "required_obsm_keys"
                )
            embedding = np.asarray(reader.obsm(key))
        units, bad = unit_rows(embedding[rows])
        without_direction += bad
        if vectors is None:
            vectors = np.lib.format.open_memmap(
                scratch, mode="w+", dtype=np.float32, shape=(n, units.shape[1])
            )
        elif units.shape[1] != vectors.shape[1]:
            raise InputError(
                f"{path}: obsm['{key}'] has {units.shape[1]} dimensions, the split's first "
                f"chunk {vectors.shape[1]}: every chunk of a split needs the same embedding"
            )
        vectors[positions] = units
    if vectors is None:
        return np.zeros((n, 0), dtype=np.float32), 0
    return vectors, without_direction


def _annotation_codes(
    chunks: Sequence[tuple[str, Path]], index: dict, n: int, key: str
) -> np.ndarray | None:
    """Annotation code of each pool cell (-1: none), codes by first appearance; None when a
    chunk has no such obs column (then nothing is compared by annotation)."""
    codes = np.full(n, -1, dtype=np.int32)
    known: dict[str, int] = {}
    for name, path in chunks:
        positions, rows = index[name]
        with ChunkReader(path) as reader:
            if key not in reader.obs_columns:
                return None
            # Arrow text: a zarr categorical is decoded without anndata or pandas
            text = plain_text(reader.obs_arrow(key)).take(pa.array(rows))
        missing = missing_text(text)
        encoded = pc.dictionary_encode(text)
        labels = encoded.dictionary.to_pylist()
        mapped = np.array([known.setdefault(label, len(known)) for label in labels], dtype=np.int32)
        if labels:
            indices = encoded.indices.to_numpy(zero_copy_only=False)
            found = ~missing
            codes[positions[found]] = mapped[indices[found].astype(np.int64)]
    return codes


def split_embedding_of(
    by_position: np.ndarray,
    annotations: np.ndarray | None,
    pool: NegativePool,
    *,
    key: str | None,
    annotation_key: str | None,
    without_direction: int,
    mining: bool,
    seed: int,
    out: np.ndarray | None = None,
) -> SplitEmbedding:
    """The split's embedding from its unit vectors by pool position (``(n, 0)``: none) and
    annotation codes: positive references, and the mining index (one list without mining).
    The workflow's step and the Python API both make it here."""
    n = pool.n
    references = np.full(n, np.nan, dtype=np.float32)
    if key and n and by_position.shape[1]:
        captions = pool.caption_codes
        references = positive_references(by_position, captions).astype(np.float32)
    index = build_mining_index(
        by_position,
        pool.batch_codes,
        seed=seed,
        n_lists=None if (mining and key) else 1,
        out=out,
        caption_codes=pool.caption_codes,
    )
    return SplitEmbedding(
        key=key,
        annotation_key=annotation_key if annotations is not None else None,
        without_direction=without_direction,
        index=index,
        references=references,
        annotations=annotations,
    )


def build_split_embedding(
    *,
    chunks: Sequence[tuple[str, Path]],
    index_path: Path,
    pool_path: Path,
    key: str | None,
    annotation_key: str | None,
    mining: bool,
    seed: int,
    vectors_path: Path,
    cells_path: Path,
    lists_path: Path,
) -> dict:
    """Write the split's embedding files; return what the log says about them."""
    index = pool_rows_by_chunk(read_index(index_path))
    pool = read_negative_pool(pool_path)
    n = pool.n
    vectors_path, cells_path, lists_path = Path(vectors_path), Path(cells_path), Path(lists_path)
    scratch = vectors_path.with_name(f".{vectors_path.name}.by-position.npy")
    try:
        if key:
            by_position, without_direction = _vectors_by_position(chunks, index, n, key, scratch)
        else:
            by_position, without_direction = np.zeros((n, 0), dtype=np.float32), 0
        annotations = (
            _annotation_codes(chunks, index, n, annotation_key) if annotation_key else None
        )
        with atomic_path(vectors_path) as tmp:
            sorted_vectors = np.lib.format.open_memmap(
                tmp, mode="w+", dtype=np.float32, shape=by_position.shape
            )
            embedding = split_embedding_of(
                by_position,
                annotations,
                pool,
                key=key,
                annotation_key=annotation_key,
                without_direction=without_direction,
                mining=mining,
                seed=seed,
                out=sorted_vectors,
            )
            sorted_vectors.flush()
            del sorted_vectors
    finally:
        if scratch.exists():
            os.unlink(scratch)
    mining_index = embedding.index
    metadata = {
        "key": key,
        "annotation_key": embedding.annotation_key,
        "without_direction": without_direction,
    }
    table = pa.table(
        {
            "member": pa.array(mining_index.members),
            "slot": pa.array(mining_index.slots),
            "reference": pa.array(embedding.references),
            "annotation": pa.array(
                annotations if annotations is not None else np.full(n, -1, dtype=np.int32)
            ),
        },
        metadata={_METADATA: json.dumps(metadata)},
    )
    write_table(table, cells_path)
    write_npz(lists_path, mining_index.arrays())
    return metadata | {"cells": n, "lists": mining_index.n_lists, "dims": by_position.shape[1]}


def read_split_embedding(vectors_path: Path, cells_path: Path, lists_path: Path) -> SplitEmbedding:
    """The files of :func:`build_split_embedding`, the large ones memory-mapped."""
    table = read_table(cells_path)
    raw = (table.schema.metadata or {}).get(_METADATA)
    if raw is None:
        raise ValueError(f"{cells_path}: not a split embedding (rerun index_split_embedding)")
    metadata = json.loads(raw)

    def column(name: str) -> np.ndarray:
        values = table.column(name)
        if not values.num_chunks:
            return np.empty(0, dtype=values.type.to_pandas_dtype())
        return values.chunk(0).to_numpy()

    with np.load(lists_path) as lists:
        arrays = {name: lists[name] for name in lists.files}
    index = MiningIndex(
        vectors=np.load(vectors_path, mmap_mode="r"),
        members=column("member"),
        slots=column("slot"),
        **arrays,
    )
    annotations = column("annotation") if metadata["annotation_key"] else None
    return SplitEmbedding(
        key=metadata["key"],
        annotation_key=metadata["annotation_key"],
        without_direction=metadata["without_direction"],
        index=index,
        references=column("reference"),
        annotations=annotations,
    )
