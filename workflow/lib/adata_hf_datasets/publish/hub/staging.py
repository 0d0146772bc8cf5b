"""Local Arrow shards converted to the Parquet files that go to the Hub, reused across reruns."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ...io.files import sha256_file
from ...steps.assemble import LocalDataset
from ..card import DATA_DIR

if TYPE_CHECKING:
    import datasets

__all__ = ["parquet_path"]


def parquet_path(split: str, index: int, count: int) -> str:
    """Path in the repository of a split's shard, in the layout ``load_dataset`` reads."""
    return f"{DATA_DIR}/{split}-{index:05d}-of-{count:05d}.parquet"


def _features_key(features: datasets.Features) -> str:
    return hashlib.sha256(json.dumps(features.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


def _arrow_to_parquet(
    src: Path,
    dst: Path,
    features: datasets.Features,
    *,
    row_group_bytes: int = 32 << 20,
    row_group_rows: int = 100_000,
) -> int:
    """Write the IPC stream ``src`` as Parquet ``dst`` batch by batch (bounded memory); returns rows."""
    import pyarrow as pa
    import pyarrow.ipc as ipc
    import pyarrow.parquet as pq

    hf_meta = json.dumps({"info": {"features": features.to_dict()}})
    schema = features.arrow_schema.with_metadata({"huggingface": hf_meta})
    tmp = dst.with_name(f".{dst.name}.tmp")
    rows = 0
    with (
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
    os.replace(tmp, dst)
    return rows


@dataclass(frozen=True)
class _Shard:
    path_in_repo: str
    local: Path
    sha256: str
    size: int


def _stage_parquet(local: LocalDataset, stage: Path, log: logging.Logger) -> list[_Shard]:
    """Convert every shard once; reuse earlier conversions recorded in ``stage/manifest.json``."""
    import pyarrow

    manifest_path = stage / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    except ValueError:
        manifest = {}
    features_key = _features_key(local.features)
    shards: list[_Shard] = []
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
                cached
                and all(cached.get(k) == v for k, v in source_key.items())
                and dst.is_file()
                and dst.stat().st_size == cached.get("size")
            ):
                shards.append(_Shard(name, dst, cached["sha256"], cached["size"]))
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            _arrow_to_parquet(src, dst, local.features)
            sha, size = sha256_file(dst), dst.stat().st_size
            manifest[name] = {**source_key, "sha256": sha, "size": size}
            shards.append(_Shard(name, dst, sha, size))
            converted += 1
    manifest = {shard.path_in_repo: manifest[shard.path_in_repo] for shard in shards}
    tmp = manifest_path.with_name(".manifest.json.tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    os.replace(tmp, manifest_path)
    log.info(
        "parquet shards: %d converted, %d reused from %s", converted, len(shards) - converted, stage
    )
    return shards
