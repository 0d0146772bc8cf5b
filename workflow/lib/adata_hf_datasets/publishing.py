"""What the local card and the Hub push share: the card's variables from the built dataset."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ._files import atomic_path
from .card import card_variables, default_template_path, read_local_dataset, render_card
from .hub import repo_base_name

CARD_FILE = "README.md"


def dataset_card_variables(dataset_dir: Path, card: dict[str, Any], *, repo_id: str) -> dict:
    """Card variables from ``summary.json`` (the measured facts) and the card settings.

    ``card`` holds the configuration the card depends on (see ``card_settings`` in the rules).
    """
    import pyarrow as pa

    dataset_dir = Path(dataset_dir)
    summary = json.loads((dataset_dir / "summary.json").read_text())
    local = read_local_dataset(dataset_dir)
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
        dataset_name=card["dataset_name"],
        dataset_format=card["dataset_format"],
        repo_id=repo_id,
        features=local.features,
        split_rows=local.split_rows,
        sentence_keys=card["sentence_keys"],
        caption_key=card["caption_key"],
        negatives_per_sample=card["negatives_per_sample"],
        resolve_negatives=card["resolve_negatives"],
        cs_length=card["cs_length"],
        embeddings=summary.get("embeddings", []),
        negative_fallbacks={s: r.get("negative_levels", {}) for s, r in splits.items()},
        example_row=example,
        adata_link_kind="nextcloud" if card["use_nextcloud"] else "local",
        dropped_missing_caption={s: r["dropped"]["missing_caption"] for s, r in splits.items()},
        adata_file_format=summary.get("adata_file_format", "zarr"),
        embedding_generation=card.get("embedding_generation"),
        dataset_type_explanation=card.get("dataset_type_explanation"),
        metadata=card.get("metadata") or {},
    )


def template_path(card: dict[str, Any]) -> Path:
    return Path(card["card_template"]) if card.get("card_template") else default_template_path()


def write_local_card(dataset_dir: Path, card: dict[str, Any]) -> Path:
    """Render the card next to the data, as it would be published (provisional repo id)."""
    repo_id = "{}/{}".format(
        card.get("base_repo_id") or "<your-user>",
        repo_base_name(
            dataset_name=card["dataset_name"],
            dataset_format=card["dataset_format"],
            caption_key=card["caption_key"],
        ),
    )
    local = read_local_dataset(dataset_dir)
    text = render_card(
        template_path=template_path(card),
        variables=dataset_card_variables(dataset_dir, card, repo_id=repo_id),
        features=local.features,
        split_rows=local.split_rows,
        split_bytes=local.split_bytes,
    )
    out = Path(dataset_dir) / CARD_FILE
    with atomic_path(out) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return out
