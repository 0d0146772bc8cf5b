"""What a dataset row holds: the formats, the sentence keys, the negative columns, and what
each column means (the card's column table is made from :func:`column_descriptions`).

Negative columns of ``multiplets`` alternate: ``negative_i_idx`` with odd ``i`` (1, 3, ...) is a
*caption negative* (a different cell whose caption differs), even ``i`` a *sentence negative*
(any different cell); :func:`is_caption_negative` is that rule, in one place. In ``pairs``
every negative is a caption negative with a caption new to its row (one row each).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import pyarrow as pa

__all__ = [
    "CAPTION_FORMATS",
    "DATASET_FORMATS",
    "FORMAT_EXPLANATIONS",
    "GENERATED_SENTENCE_KEYS",
    "GENE_LIST_KEYS",
    "SEMANTIC_KEYS",
    "SENTENCE_KEY_DESCRIPTIONS",
    "DatasetFormat",
    "FormatSpec",
    "column_descriptions",
    "is_caption_negative",
]

DatasetFormat = Literal["multiplets", "pairs", "single"]
DATASET_FORMATS: tuple[str, ...] = get_args(DatasetFormat)
CAPTION_FORMATS = frozenset({"multiplets", "pairs"})
"""Formats whose rows carry a caption (and negatives)."""

GENERATED_SENTENCE_KEYS = ("sample_id_og", "cell_sentence", "semantic_true", "semantic_similar")
"""Sentence keys computed by the workflow; any other sentence key is an obs column copied as text."""
GENE_LIST_KEYS = frozenset({"cell_sentence", "semantic_true", "semantic_similar"})
"""Keys that need the expression matrix (the only ones that make a job read X)."""
SEMANTIC_KEYS = frozenset({"semantic_true", "semantic_similar"})
"""Keys that append an annotation (they need ``annotation_key``)."""


def is_caption_negative(i: int) -> bool:
    """Whether ``negative_{i}_idx`` (1-based) is a caption negative (odd ``i``); even ``i`` is a
    sentence negative."""
    return i % 2 == 1


FORMAT_EXPLANATIONS = {
    "multiplets": (
        "Multiplets for contrastive learning: each row is one cell (the anchor) with its cell sentence(s), "
        "its positive caption and k negatives given as sample indices. Odd negatives are caption negatives "
        "(a different cell whose caption differs), even negatives are sentence negatives (any different cell)."
    ),
    "pairs": (
        "Pairs for binary classification: per cell one row with its own caption (label 1.0) followed by one row "
        "per negative (label 0.0), each carrying the caption of a different cell, different from the cell's own "
        "caption and from the captions of its other negative rows (same batch first)."
    ),
    "single": (
        "Single cells without captions or negatives, for inference and evaluation: each row is one cell with its "
        "cell sentence(s) and a link to its AnnData chunk."
    ),
}

SENTENCE_KEY_DESCRIPTIONS = {
    "sample_id_og": "the cell's obs index (its id); use it to fetch embeddings from the linked AnnData",
    "cell_sentence": "names of the cell's top expressed genes, space-separated, by expression descending",
    "semantic_true": "the gene list followed by the cell's annotation (experimental)",
    "semantic_similar": "the gene list followed by the most similar other annotation (experimental)",
}


@dataclass(frozen=True)
class FormatSpec:
    """The columns of a dataset: its format, how many sentence keys, negatives per anchor."""

    dataset_format: DatasetFormat
    n_sentences: int
    negatives_per_sample: int = 0
    resolve_negatives: bool = False

    def __post_init__(self) -> None:
        if self.dataset_format not in DATASET_FORMATS:
            raise ValueError(
                f"dataset_format {self.dataset_format!r}: use one of {', '.join(DATASET_FORMATS)}"
            )

    @classmethod
    def from_json(cls, data: dict) -> FormatSpec:
        return cls(**data)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    def column_names(self) -> list[str]:
        sentences = [f"cell_sentence_{i}" for i in range(1, self.n_sentences + 1)]
        if self.dataset_format == "single":
            return ["sample_idx", *sentences, "adata_link"]
        if self.dataset_format == "pairs":
            return ["sample_idx", *sentences, "caption", "label", "adata_link"]
        negatives: list[str] = []
        for i in range(1, self.negatives_per_sample + 1):
            negatives.append(f"negative_{i}_idx")
            if self.resolve_negatives:
                negatives.append(f"negative_{i}")
        return ["sample_idx", *sentences, "positive", *negatives, "adata_link"]

    def schema(self) -> pa.Schema:
        fields = [
            pa.field(name, pa.float32() if name == "label" else pa.string())
            for name in self.column_names()
        ]
        features = {
            f.name: {"dtype": "float32" if f.name == "label" else "string", "_type": "Value"}
            for f in fields
        }
        metadata = {"huggingface": json.dumps({"info": {"features": features}})}
        return pa.schema(fields, metadata=metadata)

    def features_dict(self) -> dict:
        return json.loads(self.schema().metadata[b"huggingface"])["info"]["features"]

    def features(self):
        """The explicit ``datasets.Features`` of this format."""
        import datasets

        return datasets.Features.from_dict(self.features_dict())


def column_descriptions(
    *,
    dataset_format: DatasetFormat,
    sentence_keys: Sequence[str],
    negatives_per_sample: int,
    resolve_negatives: bool,
    caption_key: str | None,
) -> dict[str, str]:
    """Column name -> description for a format, in the order of the format's columns."""
    caption = f"`obs[{caption_key!r}]`" if caption_key else "the caption column"
    cols: dict[str, str] = {"sample_idx": "the cell's obs index (sample id) in its AnnData chunk"}
    for i, key in enumerate(sentence_keys, start=1):
        cols[f"cell_sentence_{i}"] = (
            f"`{key}`: {SENTENCE_KEY_DESCRIPTIONS.get(key, f'obs column {key!r}')}"
        )
    if dataset_format == "multiplets":
        cols["positive"] = f"the anchor's caption ({caption})"
        for i in range(1, negatives_per_sample + 1):
            caption = is_caption_negative(i)
            kind = "caption negative" if caption else "sentence negative"
            what = (
                "a different cell whose caption differs from the anchor's"
                if caption
                else "any different cell of the split"
            )
            cols[f"negative_{i}_idx"] = f"{kind}: sample id of {what}"
            if resolve_negatives:
                cols[f"negative_{i}"] = (
                    "the caption of that caption negative"
                    if caption
                    else "the cell sentence of that sentence negative"
                )
    elif dataset_format == "pairs":
        cols["caption"] = (
            f"a caption ({caption}): the cell's own (label 1.0) or a caption negative's (label 0.0)"
        )
        cols["label"] = (
            "1.0 when `caption` describes this cell, 0.0 when it is a negative's caption"
        )
    cols["adata_link"] = (
        "where the cell's AnnData chunk is (share link of the zipped chunk, or a local path)"
    )
    return cols
