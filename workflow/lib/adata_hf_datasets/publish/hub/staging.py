"""Local Arrow shards converted to the Parquet files that go to the Hub, reused across reruns."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ...io.files import atomic_path, sha256_file, write_json
from ...steps.assemble import LocalDataset
from ..card import DATA_DIR
from .errors import LOG

if TYPE_CHECKING:
    import datasets

__all__ = ["StagedShard", "arrow_to_parquet", "parquet_path", "stage_parquet"]


def parquet_path(split: str, index: int, count: int) -> str:
    """Path in the repository of a split's shard, in the layout ``load_dataset`` reads."""
    return f"{DATA_DIR}/{split}-{index:05d}-of-{count:05d}.parquet"


def _features_key(features: datasets.Features) -> str:
    return hashlib.sha256(json.dumps(features.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


def arrow_to_parquet(
    src: Path,
    dst: Path,
    features: datasets.Features,
    *,
    row_group_bytes: int = 32 << 20,
    row_group_rows: int = 100_000,
) -> int:
    """Write the Arrow IPC stream ``src`` as the Parquet file ``dst``, batch by batch.

    The Hub serves Parquet, and a shard can be larger than memory: batches are gathered into
    row groups of at most ``row_group_bytes`` / ``row_group_rows``, so memory stays near one row
    group whatever the shard's size. The schema carries ``features`` (the ``huggingface``
    metadata), so ``load_dataset`` gives back the local features exactly. Public for
    :func:`stage_parquet` and for the test that bounds its memory.

    Parameters
    ----------
    src
        A shard of a saved ``Dataset`` (an Arrow IPC stream).
    dst
        The Parquet file, written atomically (a killed job leaves no half file).
    features
        The dataset's features; batches of another schema are cast to them.
    row_group_bytes, row_group_rows
        Where a row group ends (whichever is reached first).

    Returns
    -------
    int
        The number of rows written.
    """
    import pyarrow as pa
    import pyarrow.ipc as ipc
    import pyarrow.parquet as pq

    hf_meta = json.dumps({"info": {"features": features.to_dict()}})
    schema = features.arrow_schema.with_metadata({"huggingface": hf_meta})
    rows = 0
    with (
        atomic_path(dst) as tmp,
        pa.OSFile(str(src), "rb") as source,
        pq.ParquetWriter(str(tmp), schema, compression="snappy") as writer,
    ):
        pending: list[pa.RecordBatch] = []
        pending_bytes = pending_rows = 0

        def flush() -> None:
            nonlocal pending, pending_bytes, pending_rows
            if pending:
                writer.write_table(
                    pa.Table.from_batches(pending, schema=schema), row_group_size=pending_rows
                )
            pending, pending_bytes, pending_rows = [], 0, 0

        for batch in ipc.open_stream(source):
            if batch.num_rows == 0:
                continue
            if not batch.schema.equals(schema, check_metadata=False):
                batch = pa.Table.from_batches([batch]).cast(schema).combine_chunks().to_batches()[0]
            else:
                batch = pa.RecordBatch.from_arrays(batch.columns, schema=schema)
            pending.append(batch)
            pending_bytes += batch.nbytes
            pending_rows += batch.num_rows
            rows += batch.num_rows
            if pending_bytes >= row_group_bytes or pending_rows >= row_group_rows:
                flush()
        flush()
    return rows


@dataclass(frozen=True)
class StagedShard:
    """A Parquet file ready to upload: what :func:`stage_parquet` hands to :func:`~.publish`,
    which compares ``sha256`` and ``size`` with the repository's files to skip what it holds."""

    path_in_repo: str
    """Where it goes (see :func:`parquet_path`)."""
    local: Path
    """The staged Parquet file."""
    sha256: str
    """Its sha256 (hex), as the Hub lists it for LFS files."""
    size: int
    """Its size in bytes."""


def _read_manifest(manifest_path: Path) -> dict:
    """The staging manifest, or empty when it is missing or damaged (a cache: all is redone)."""
    try:
        manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def stage_parquet(
    local: LocalDataset, stage: Path, *, log: logging.Logger = LOG
) -> list[StagedShard]:
    """Convert every Arrow shard of ``local`` to Parquet in ``stage``, reusing earlier runs.

    A rerun after an interrupted push should not convert a big dataset again:
    ``stage/manifest.json`` records each conversion with its source (path, size, mtime), the
    features and the pyarrow version, and a conversion is reused while all of them match and
    the staged file has the recorded size. Entries of shards no longer present are dropped.

    Parameters
    ----------
    local
        The dataset read by :func:`~adata_hf_datasets.steps.assemble.read_local_dataset`.
    stage
        The staging directory (kept across reruns by the ``push_to_hub`` rule).
    log
        Where the count of converted and reused shards goes.

    Returns
    -------
    list[StagedShard]
        One per local shard, split by split, in shard order.
    """
    import pyarrow

    manifest_path = stage / "manifest.json"
    manifest = _read_manifest(manifest_path)
    features_key = _features_key(local.features)
    shards: list[StagedShard] = []
    converted = 0
    for split in local.splits.values():
        for index, src in enumerate(split.shards):
            name = parquet_path(split.name, index, len(split.shards))
            dst = stage / name
            stat = src.stat()
            source_key = {
                "source": str(src.resolve()),
                "source_size": stat.st_size,
                "source_mtime_ns": stat.st_mtime_ns,
                "features": features_key,
                "pyarrow": pyarrow.__version__,
            }
            cached = manifest.get(name)
            if (
                isinstance(cached, dict)
                and all(cached.get(k) == v for k, v in source_key.items())
                and isinstance(cached.get("sha256"), str)
                and dst.is_file()
                and dst.stat().st_size == cached.get("size")
            ):
                shards.append(StagedShard(name, dst, cached["sha256"], cached["size"]))
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            arrow_to_parquet(src, dst, local.features)
            sha, size = sha256_file(dst), dst.stat().st_size
            manifest[name] = {**source_key, "sha256": sha, "size": size}
            shards.append(StagedShard(name, dst, sha, size))
            converted += 1
    manifest = {shard.path_in_repo: manifest[shard.path_in_repo] for shard in shards}
    write_json(manifest_path, manifest)
    log.info(
        "parquet shards: %d converted, %d reused from %s", converted, len(shards) - converted, stage
    )
    return shards
