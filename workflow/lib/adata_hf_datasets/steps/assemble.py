"""The dataset folder: each split's record, the ``load_from_disk``-able ``DatasetDict`` folder
(shards hard-linked, no data copied) with its ``summary.json``, and reading that folder back.

A shard is an Arrow IPC stream (the format ``datasets`` itself writes), so
``datasets.load_from_disk`` reads the assembled folder without any conversion.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .. import __version__
from ..core.formats import FormatSpec
from ..io.discovery import valid_split_name
from ..io.files import write_json
from ..records import DroppedRows, InputsSummary, ShardRef, ShardStats, SplitInfo, SplitRecord

if TYPE_CHECKING:
    import datasets

__all__ = [
    "LocalDataset",
    "LocalSplit",
    "build_dataset_folder",
    "materialise_dataset",
    "read_local_dataset",
    "split_record",
]


def split_record(
    *,
    shards: Sequence[str | Path],
    stats: Sequence[ShardStats],
    negative_counts: Sequence[Mapping[str, int]],
    info: SplitInfo,
) -> SplitRecord:
    """What one split contributes: its shards in order and its statistics."""
    levels: dict[str, int] = {}
    for counts in negative_counts:
        for key, value in counts.items():
            levels[key] = levels.get(key, 0) + value
    return SplitRecord(
        shards=tuple(
            ShardRef(path=str(Path(p).absolute()), sha256=s.sha256)
            for p, s in zip(shards, stats, strict=True)
        ),
        rows=sum(s.rows for s in stats),
        samples=sum(s.samples for s in stats),
        cells=info.cells,
        chunks=len(shards),
        dropped=DroppedRows(
            missing_caption=info.dropped_missing_caption,
            pairs_negative_rows_skipped=sum(s.pairs_negative_rows_skipped for s in stats),
        ),
        captions=info.captions,
        batches=info.batches,
        negative_levels=levels,
    )


def build_dataset_folder(
    out_dir: Path,
    *,
    splits: Mapping[str, SplitRecord],
    spec: FormatSpec,
    dataset_id: str,
    inputs: InputsSummary,
    config: dict,
) -> dict:
    """Materialise the DatasetDict folder and write ``summary.json`` inside it; return the
    summary."""
    materialise_dataset(
        out_dir,
        {split: [(s.path, s.sha256) for s in rec.shards] for split, rec in splits.items()},
        features=spec.features_dict(),
        description=f"{dataset_id}: {spec.dataset_format} dataset built by adata-hf-datasets",
    )
    split_inputs = inputs.splits.values()
    summary = {
        "dataset_id": dataset_id,
        "path": str(Path(out_dir).absolute()),
        "format": spec.dataset_format,
        "columns": spec.column_names(),
        "splits": {
            split: {k: v for k, v in rec.to_json().items() if k != "shards"}
            | {"shards": len(rec.shards)}
            for split, rec in splits.items()
        },
        "total_rows": sum(rec.rows for rec in splits.values()),
        "input_warnings": {s: list(info.warnings) for s, info in inputs.splits.items()},
        # embeddings present in every chunk of every split
        "embeddings": sorted(set.intersection(*(set(info.obsm_keys) for info in split_inputs))),
        "adata_file_format": "/".join(sorted({f for i in split_inputs for f in i.file_formats})),
        "config": config,
        "generated_by": f"adata-hf-datasets {__version__}",
    }
    write_json(Path(out_dir) / "summary.json", summary)
    return summary


def _link_or_copy(source: Path, target: Path) -> bool:
    """Hard link (no data copied); copy only when the file systems differ. True when linked."""
    try:
        os.link(source, target)
        return True
    except OSError:
        shutil.copyfile(source, target)
        return False


def materialise_dataset(
    out_dir: Path, splits: dict[str, list[tuple[Path, str]]], *, features: dict, description: str
) -> dict[str, int]:
    """Create the ``load_from_disk``-able ``DatasetDict`` folder at ``out_dir`` atomically.

    Parameters
    ----------
    splits
        Per split, ``(shard path, shard sha256)`` in shard order.

    Returns the number of shards that had to be copied (0 when all were hard-linked).
    """
    out_dir = Path(out_dir)
    staging = out_dir.with_name(f".{out_dir.name}.partial")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    copied = 0
    for split, shards in splits.items():
        split_dir = staging / split
        split_dir.mkdir()
        files = []
        for i, (shard, _) in enumerate(shards):
            name = f"data-{i:05d}-of-{len(shards):05d}.arrow"
            copied += not _link_or_copy(Path(shard), split_dir / name)
            files.append({"filename": name})
        fingerprint = hashlib.blake2b(
            "".join(sha for _, sha in shards).encode(), digest_size=8
        ).hexdigest()
        state = {
            "_data_files": files,
            "_fingerprint": fingerprint,
            "_format_columns": None,
            "_format_kwargs": {},
            "_format_type": None,
            "_output_all_columns": False,
            "_split": split,
        }
        info = {
            "citation": "",
            "description": description,
            "features": features,
            "homepage": "",
            "license": "",
        }
        (split_dir / "state.json").write_text(json.dumps(state, indent=2, sort_keys=True))
        # no sort_keys: the order of "features" is the column order
        (split_dir / "dataset_info.json").write_text(json.dumps(info, indent=2))
    (staging / "dataset_dict.json").write_text(json.dumps({"splits": list(splits)}))
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(staging, out_dir)
    return {"copied_shards": copied}


# ---------------------------------------------------------------------------------------------
# Reading the folder back (the layout written above, or by DatasetDict.save_to_disk)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalSplit:
    name: str
    shards: tuple[Path, ...]
    num_rows: int
    num_bytes: int


@dataclass(frozen=True)
class LocalDataset:
    path: Path
    features: datasets.Features
    splits: dict[str, LocalSplit] = field(default_factory=dict)

    @property
    def split_rows(self) -> dict[str, int]:
        return {name: split.num_rows for name, split in self.splits.items()}

    @property
    def split_bytes(self) -> dict[str, int]:
        return {name: split.num_bytes for name, split in self.splits.items()}


def read_local_dataset(dataset_dir: Path) -> LocalDataset:
    """Splits, shard files, features and row counts of a ``DatasetDict`` saved on disk.

    Reads ``dataset_dict.json``, each split's ``state.json`` and ``dataset_info.json``, and counts
    rows from the Arrow IPC stream shards (memory-mapped, no data copied). All splits must share
    the same features.
    """
    import datasets
    import pyarrow as pa
    import pyarrow.ipc as ipc

    dataset_dir = Path(dataset_dir)
    dict_json = dataset_dir / "dataset_dict.json"
    if not dict_json.is_file():
        raise FileNotFoundError(f"{dict_json} not found: {dataset_dir} is not a saved DatasetDict")
    split_names = json.loads(dict_json.read_text())["splits"]
    features = None
    splits: dict[str, LocalSplit] = {}
    for name in split_names:
        if not valid_split_name(name):
            raise ValueError(
                f"split name {name!r} of {dataset_dir} is not a valid Hugging Face split name"
            )
        split_dir = dataset_dir / name
        state = json.loads((split_dir / "state.json").read_text())
        info = json.loads((split_dir / "dataset_info.json").read_text())
        split_features = datasets.Features.from_dict(info["features"])
        if features is None:
            features = split_features
        elif split_features != features:
            raise ValueError(
                f"split {name!r} of {dataset_dir} has other features than the first split"
            )
        shards = tuple(split_dir / item["filename"] for item in state["_data_files"])
        rows = 0
        for shard in shards:
            with pa.memory_map(str(shard), "r") as source:
                for batch in ipc.open_stream(source):
                    rows += batch.num_rows
        splits[name] = LocalSplit(name, shards, rows, sum(s.stat().st_size for s in shards))
    if features is None:
        raise ValueError(f"{dataset_dir} has no splits")
    return LocalDataset(dataset_dir, features, splits)
