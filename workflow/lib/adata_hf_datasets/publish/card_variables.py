"""The variables of the dataset card: the user guide's (``embedding_generation``,
``dataset_type_explanation``, ``repo_id``, ``dataset_name``, ``total_samples``, ``splits``),
the configuration's, the measured facts of the built dataset, and the user's ``metadata``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..core.formats import (
    FORMAT_EXPLANATIONS,
    GENE_LIST_KEYS,
    SENTENCE_KEY_DESCRIPTIONS,
    column_descriptions,
)
from ..errors import AdataHfError
from ..io.files import read_json
from ..records import CardSettings
from ..steps.assemble import LocalDataset
from .report import quality_table_rows, table_cell

if TYPE_CHECKING:
    import datasets

__all__ = ["PREFERRED_LEVELS", "CardTemplateError", "card_variables", "dataset_card_variables"]

PREFERRED_LEVELS = frozenset({"caption_same_batch", "sentence_same_batch"})
"""Negative levels that are no fallback (see ``FallbackCounts``)."""


class CardTemplateError(AdataHfError, ValueError):
    """The dataset card cannot be rendered (missing template, syntax error, unknown variable, a
    ``metadata`` key that collides with a built-in variable)."""


def _size_category(n: int) -> str:
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
              (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B")]  # fmt: skip
    for bound, label in bounds:
        if n < bound:
            return label
    return "1B<n<10B"


def _short(value: Any, limit: int = 160) -> Any:
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + f"… ({len(value)} characters)"
    return value


def card_variables(
    card: CardSettings,
    *,
    repo_id: str,
    features: datasets.Features,
    split_rows: Mapping[str, int],
    embeddings: Sequence[str],
    negative_levels: Mapping[str, Mapping[str, int]],
    example_row: Mapping[str, Any] | None,
    dropped_missing_caption: Mapping[str, int] | None = None,
    adata_file_format: str = "zarr",
    warnings: Sequence[str] = (),
    negative_quality: Mapping[str, Mapping] | None = None,
) -> dict[str, Any]:
    """Every variable of the default template: the user guide's variables, the configuration's
    (``card``), and the measured facts of the dataset.

    ``negative_levels``: per split, how many negatives were drawn at each level
    (``FallbackCounts``); the card lists the fallbacks among them (every level but the
    preferred ``caption_same_batch`` and ``sentence_same_batch``). ``warnings``: what the user
    gets differently (dropped cells, fall-backs), as ``summary.json`` lists them.
    ``card.metadata`` keys are added as variables too; one that collides with a built-in
    variable must carry the same value.
    """
    dataset_format = card.dataset_format
    if dataset_format not in FORMAT_EXPLANATIONS:
        raise ValueError(f"unknown dataset_format {dataset_format!r} (multiplets, pairs or single)")
    sentence_keys = card.sentence_keys
    known = column_descriptions(
        dataset_format=dataset_format,
        sentence_keys=sentence_keys,
        negatives_per_sample=card.negatives_per_sample,
        resolve_negatives=card.resolve_negatives,
        caption_key=card.caption_key,
    )
    columns = [
        {
            "name": name,
            "dtype": getattr(feature, "dtype", type(feature).__name__),
            "description": known.get(name, ""),
        }
        for name, feature in features.items()
    ]
    fallbacks = {
        split: {level: n for level, n in levels.items() if n and level not in PREFERRED_LEVELS}
        for split, levels in negative_levels.items()
    }
    example = {k: _short(v) for k, v in (example_row or {}).items()}
    total = sum(split_rows.values())
    embedding_generation = card.embedding_generation
    if embedding_generation is None:
        embedding_generation = (
            "The linked AnnData chunks carry these embeddings in `obsm`: "
            + ", ".join(f"`{key}`" for key in embeddings)
            + "."
            if embeddings
            else "No embeddings were required for this dataset; the linked AnnData chunks hold the processed data."
        )
    variables: dict[str, Any] = {
        # the user guide's variables
        "embedding_generation": embedding_generation,
        "dataset_type_explanation": (
            card.dataset_type_explanation or FORMAT_EXPLANATIONS[dataset_format]
        ),
        "repo_id": repo_id,
        "dataset_name": card.dataset_name,
        "total_samples": total,
        "splits": list(split_rows),
        # measured facts
        "split_rows": dict(split_rows),
        "size_category": _size_category(total),
        "dataset_format": dataset_format,
        "caption_key": card.caption_key,
        "sentence_keys": list(sentence_keys),
        "sentence_columns": [
            {
                "column": f"cell_sentence_{i}",
                "key": key,
                "description": SENTENCE_KEY_DESCRIPTIONS.get(key, ""),
            }
            for i, key in enumerate(sentence_keys, start=1)
        ],
        "has_gene_sentences": any(key in GENE_LIST_KEYS for key in sentence_keys),
        "columns": columns,
        "negatives_per_sample": card.negatives_per_sample if dataset_format != "single" else 0,
        "resolve_negatives": bool(card.resolve_negatives),
        "cs_length": card.cs_length,
        "embeddings": list(embeddings),
        "negative_levels": {split: dict(levels) for split, levels in negative_levels.items()},
        "negative_fallbacks": fallbacks,
        "total_negative_fallbacks": sum(sum(levels.values()) for levels in fallbacks.values()),
        "warnings": list(warnings),
        "hard_negatives": card.hard_negatives.to_json() if card.hard_negatives else None,
        "negative_quality_rows": [
            {key: table_cell(value, html=False) for key, value in row.items()}
            for row in quality_table_rows(negative_quality or {})
        ],
        "negative_quality_embedding": next(
            (q.get("embedding") for q in (negative_quality or {}).values()), None
        ),
        "dropped_missing_caption": dict(dropped_missing_caption or {}),
        "example_row": example,
        "example_row_json": json.dumps(example, indent=2, ensure_ascii=False, default=str),
        "adata_link_kind": "nextcloud" if card.use_nextcloud else "local",
        "adata_file_format": adata_file_format,
    }
    for key, value in card.metadata.items():
        if key in variables and variables[key] != value:
            raise CardTemplateError(
                f"dataset_creation.metadata key {key!r} collides with the built-in card variable "
                "of that name "
                f"({value!r} != {variables[key]!r}); rename it"
            )
        variables[key] = value
    return variables


def dataset_card_variables(
    local: LocalDataset, card: CardSettings, *, repo_id: str
) -> dict[str, Any]:
    """Card variables from the built dataset (its ``summary.json``: the measured facts) and the
    card settings (the configuration the card depends on)."""
    import pyarrow as pa

    summary = read_json(local.path / "summary.json")
    first_split = next(iter(local.splits.values()))
    example = None
    if first_split.shards:
        with pa.memory_map(str(first_split.shards[0]), "r") as source:
            reader = pa.ipc.open_stream(source)
            for batch in reader:
                if batch.num_rows:
                    example = {k: v[0] for k, v in batch.slice(0, 1).to_pydict().items()}
                    break
    splits = summary["splits"]
    return card_variables(
        card,
        repo_id=repo_id,
        features=local.features,
        split_rows=local.split_rows,
        embeddings=summary.get("embeddings", []),
        negative_levels={s: r.get("negative_levels", {}) for s, r in splits.items()},
        example_row=example,
        dropped_missing_caption={s: r["dropped"]["missing_caption"] for s, r in splits.items()},
        adata_file_format=summary.get("adata_file_format", "zarr"),
        warnings=summary.get("warnings", []),
        negative_quality=summary.get("negative_quality", {}),
    )
