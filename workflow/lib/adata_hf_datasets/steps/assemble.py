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
from ..errors import InputError
from ..io.discovery import valid_split_name
from ..io.files import write_json
from ..records import (
    DroppedRows,
    InputsSummary,
    SentenceStats,
    ShardRef,
    ShardStats,
    SplitInfo,
    SplitNegativeQuality,
    SplitRecord,
)
from .negative_quality import negative_quality_summary

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
    sentence_stats: Sequence[tuple[str, SentenceStats]] = (),
    on_empty_sentence: str = "keep",
    split: str = "",
) -> SplitRecord:
    """What one split contributes: its shards in order and its statistics.

    ``sentence_stats``: ``(chunk label, stats)`` of the split's sentence files; with
    ``on_empty_sentence: error`` a cell with an empty gene list is an
    :class:`~adata_hf_datasets.errors.InputError` naming the chunks and cells (the dataset is
    not replaced).
    """
    empty = [(label, s) for label, s in sentence_stats if s.empty_rows]
    if empty and on_empty_sentence == "error":
        listed = "; ".join(
            f"{label}: {len(s.empty_rows)} (e.g. {list(s.empty_examples)})" for label, s in empty
        )
        raise InputError(
            f"split '{split}': cells have an empty gene list (no expressed gene among the ranked "
            f"genes): {listed}; check the expression matrix and the highly-variable restriction "
            "(use_highly_variable), or set dataset_creation.on_empty_sentence to keep or drop"
        )
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
            empty_sentence=info.dropped_empty_sentence,
            pairs_negative_rows_skipped=sum(s.pairs_negative_rows_skipped for s in stats),
        ),
        captions=info.captions,
        batches=info.batches,
        negative_levels=levels,
        empty_sentences=sum(len(s.empty_rows) for _, s in empty),
        empty_sentence_examples=tuple(e for _, s in empty for e in s.empty_examples)[:5],
    )


def build_dataset_folder(
    folder: Path,
    *,
    splits: Mapping[str, SplitRecord],
    spec: FormatSpec,
    dataset_id: str,
    inputs: InputsSummary,
    config: dict,
    final_path: Path,
    negative_quality: Mapping[str, SplitNegativeQuality] | None = None,
) -> dict:
    """Write the DatasetDict (shards hard-linked) and its ``summary.json`` into the empty
    ``folder``, which becomes ``final_path`` once complete (see ``io.files.build_beside``);
    return the summary. ``negative_quality``: per split, its negatives' quality record."""
    materialise_dataset(
        folder,
        {split: [(s.path, s.sha256) for s in rec.shards] for split, rec in splits.items()},
        features=spec.features_dict(),
        description=f"{dataset_id}: {spec.dataset_format} dataset built by adata-hf-datasets",
    )
    split_inputs = inputs.splits.values()
    summary = {
        "dataset_id": dataset_id,
        "path": str(Path(final_path).absolute()),
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
        "negative_quality": {
            split: negative_quality_summary(record)
            for split, record in (negative_quality or {}).items()
        },
        "config": config,
        "generated_by": f"adata-hf-datasets {__version__}",
    }
    summary["warnings"] = dataset_warnings(splits, inputs)
    write_json(Path(folder) / "summary.json", summary)
    return summary


FALLBACK_SHARE = 0.05
"""A negative level other than the preferred one is worth a warning above this share."""

# The levels of caption columns (FallbackCounts): the share of their fallbacks is of these.
_CAPTION_LEVELS = (
    "caption_same_batch",
    "caption_other_batch",
    "caption_as_sentence",
    "caption_none",
    "mined_same_batch",
    "mined_other_batch",
)
_LEVEL_WARNINGS = {
    "caption_other_batch": "caption negatives came from another batch (no other caption in "
    "the anchor's batch)",
    "caption_as_sentence": "caption columns hold a sentence negative (no cell with another "
    "caption was left): not a caption negative",
    "sentence_other_batch": "sentence negatives came from another batch (the anchor's batch "
    "has no other cell)",
    "repeated": "negatives repeat another negative of their row (the split is too small for "
    "distinct ones)",
    "caption_none": "negatives are missing (no caption new to the row was left): those pairs "
    "rows are left out",
    "mined_other_batch": "caption negatives were mined from another batch (no eligible cell "
    "of the anchor's batch in the window)",
}


def dataset_warnings(splits: Mapping[str, SplitRecord], inputs: InputsSummary) -> list[str]:
    """What the user gets differently from what the config asks, in words: the input warnings
    (dropped cells, fall-backs, batches) and the dataset's own (fallback negatives above
    :data:`FALLBACK_SHARE`, a split with a single caption, empty gene lists)."""
    warnings = [w for info in inputs.splits.values() for w in info.warnings]
    for split, record in splits.items():
        levels = record.negative_levels
        total = sum(levels.values())
        caption_total = sum(levels.get(level, 0) for level in _CAPTION_LEVELS)
        for level, what in _LEVEL_WARNINGS.items():
            count = levels.get(level, 0)
            of = caption_total if level in _CAPTION_LEVELS else total
            if of and count > FALLBACK_SHARE * of:
                warnings.append(f"{split}: {count:,} of {of:,} ({count / of:.0%}) {what}")
        mined = levels.get("mined_same_batch", 0) + levels.get("mined_other_batch", 0)
        not_mined = sum(levels.get(level, 0) for level in _CAPTION_LEVELS[:3])
        if mined and caption_total and not_mined > FALLBACK_SHARE * caption_total:
            warnings.append(
                f"{split}: {not_mined:,} of {caption_total:,} ({not_mined / caption_total:.0%}) "
                "caption negatives could not be mined (no eligible cell in the window "
                "[range_min, range_max)) and are random"
            )
        if total and record.captions == 1:
            warnings.append(
                f"{split}: every cell has the same caption: no caption negative can differ "
                "from its anchor"
            )
        if record.empty_sentences:
            kept = record.dropped.empty_sentence == 0
            warnings.append(
                f"{split}: {record.empty_sentences:,} cell(s) have an empty gene list (no "
                "expressed gene among the ranked genes), e.g. "
                f"{list(record.empty_sentence_examples)}: "
                + ("their cell_sentence is empty" if kept else "they are left out")
            )
    return warnings


def _link_or_copy(source: Path, target: Path) -> bool:
    """Hard link (no data copied); copy only when the file systems differ. True when linked."""
    try:
        os.link(source, target)
        return True
    except OSError:
        shutil.copyfile(source, target)
        return False


def materialise_dataset(
    folder: Path, splits: dict[str, list[tuple[Path, str]]], *, features: dict, description: str
) -> dict[str, int]:
    """Write the ``load_from_disk``-able ``DatasetDict`` layout into the (empty) ``folder``.

    Parameters
    ----------
    splits
        Per split, ``(shard path, shard sha256)`` in shard order.

    Returns the number of shards that had to be copied (0 when all were hard-linked).
    """
    folder = Path(folder)
    copied = 0
    for split, shards in splits.items():
        split_dir = folder / split
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
    (folder / "dataset_dict.json").write_text(json.dumps({"splits": list(splits)}))
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
