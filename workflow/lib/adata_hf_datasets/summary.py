"""Split records and the dataset summary: rows, dropped rows and why, negative fallbacks."""

from __future__ import annotations

import json
from pathlib import Path

from . import __version__
from ._files import atomic_path
from .shards import FormatSpec, materialise_dataset


def _add_counts(total: dict, part: dict) -> dict:
    for key, value in part.items():
        total[key] = total.get(key, 0) + value
    return total


def split_record(
    *, shards: list[str], stats: list[dict], negative_counts: list[dict], index_info: dict
) -> dict:
    """What one split contributes: its shards in order and its statistics."""
    levels: dict = {}
    for counts in negative_counts:
        _add_counts(levels, counts)
    return {
        "shards": [
            {"path": str(Path(p).absolute()), "sha256": s["sha256"]}
            for p, s in zip(shards, stats, strict=True)
        ],
        "rows": sum(s["rows"] for s in stats),
        "samples": sum(s["samples"] for s in stats),
        "cells": index_info["cells"],
        "chunks": len(shards),
        "dropped": {
            "missing_caption": index_info["dropped_missing_caption"],
            "pairs_negative_rows_skipped": sum(
                s.get("pairs_negative_rows_skipped", 0) for s in stats
            ),
        },
        "captions": index_info["captions"],
        "batches": index_info["batches"],
        "negative_levels": levels,
    }


def build_dataset_folder(
    out_dir: Path,
    *,
    splits: dict[str, dict],
    spec: dict,
    dataset_id: str,
    inputs: dict,
    config: dict,
) -> dict:
    """Materialise the DatasetDict folder and write ``summary.json`` inside it."""
    fmt = FormatSpec(**spec)
    materialise_dataset(
        out_dir,
        {split: [(s["path"], s["sha256"]) for s in rec["shards"]] for split, rec in splits.items()},
        features=fmt.features_dict(),
        description=f"{dataset_id}: {fmt.dataset_format} dataset built by adata-hf-datasets",
    )
    summary = {
        "dataset_id": dataset_id,
        "path": str(Path(out_dir).absolute()),
        "format": fmt.dataset_format,
        "columns": fmt.column_names(),
        "splits": {
            split: {k: v for k, v in rec.items() if k != "shards"} | {"shards": len(rec["shards"])}
            for split, rec in splits.items()
        },
        "total_rows": sum(rec["rows"] for rec in splits.values()),
        "input_warnings": {s: info.get("warnings", []) for s, info in inputs.items()},
        # embeddings present in every chunk of every split
        "embeddings": sorted(
            set.intersection(*(set(info.get("obsm_keys") or []) for info in inputs.values()))
        ),
        "adata_file_format": "/".join(
            sorted({f for info in inputs.values() for f in info.get("file_formats", [])})
        ),
        "config": config,
        "generated_by": f"adata-hf-datasets {__version__}",
    }
    with atomic_path(Path(out_dir) / "summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2, sort_keys=True, default=str))
    return summary
