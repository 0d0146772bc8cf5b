"""Python API of the user guide: the same results as the workflow, in a notebook.

>>> from adata_hf_datasets.dataset import AnnDataSetConstructor, create_cell_sentences
>>> adata = create_cell_sentences(adata, gene_name_column="gene_name", cs_length=4096)
>>> constructor = AnnDataSetConstructor(dataset_format="multiplets", negatives_per_sample=2)
>>> constructor.add_anndata(adata, sentence_keys=["sample_id_og"], caption_key="caption",
...                         batch_key="batch", adata_link="/data/train/chunk_0.zarr")
>>> dataset = constructor.get_dataset()

Each ``add_anndata`` call is one chunk of one split; negatives are drawn from all chunks added,
with the random stream of the workflow (seed, split, chunk name), so the same chunks, config
and seed give the same rows as ``snakemake``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from .config import creation_defaults
from .core.formats import CAPTION_FORMATS, DATASET_FORMATS, DatasetFormat, FormatSpec
from .core.genes import highly_variable_mask, resolve_gene_names
from .core.hard_negatives import MiningSettings
from .core.negative_quality import unit_rows
from .core.ranking import CellSentenceBuilder
from .core.rows import RowCounts, shard_batches
from .core.semantic import annotation_sums, similar_annotations, similarity_embedding
from .core.spelling import append_annotation
from .core.text import as_text, missing_mask
from .errors import InputError
from .io.discovery import chunk_name as chunk_name_of
from .records import HardNegativeSpec
from .steps.embedding import split_embedding_of
from .steps.negatives import negatives_of_chunk
from .steps.shard import SentenceResolver, chunk_shard_inputs
from .steps.split_index import index_table, negative_pool

log = logging.getLogger(__name__)

__all__ = ["AnnDataSetConstructor", "create_cell_sentences"]

_DEFAULTS = creation_defaults()  # the workflow's defaults: the schema's


def _expression(adata: Any, matrix: str) -> tuple[Any, pd.DataFrame]:
    if matrix == "X":
        return adata.X, adata.var
    if matrix == "raw":
        if adata.raw is None:
            raise ValueError("expression_matrix='raw' but adata.raw is None")
        return adata.raw.X, adata.raw.var
    if matrix not in adata.layers:
        raise ValueError(f"layer '{matrix}' not found in adata.layers ({list(adata.layers)})")
    return adata.layers[matrix], adata.var


def create_cell_sentences(
    adata: Any,
    *,
    gene_name_column: str = _DEFAULTS["gene_name_column"],
    annotation_column: str | None = None,
    cs_length: int = _DEFAULTS["cs_length"],
    expression_matrix: str = _DEFAULTS["expression_matrix"],
    use_highly_variable: bool = _DEFAULTS["use_highly_variable"],
    similarity_obsm_key: str | None = _DEFAULTS["similarity_obsm_key"],
    required_obsm_keys: Sequence[str] = tuple(_DEFAULTS["required_obsm_keys"]),
    row_block_size: int = _DEFAULTS["row_block_size"],
) -> Any:
    """Add ``sample_id_og``, ``cell_sentence`` and (with ``annotation_column``) ``semantic_true``
    and ``semantic_similar`` to ``adata.obs``, exactly as the workflow computes them.

    Parameters
    ----------
    adata
        An in-memory AnnData.
    gene_name_column
        var column with gene names; ``var.index`` is used (with a warning) when it is missing.
    annotation_column
        obs column with cell types, for the semantic sentences.
    cs_length
        Maximum number of genes per sentence (zeros are never included).
    expression_matrix
        ``"X"``, ``"raw"`` or a layer name.
    use_highly_variable
        Rank only ``var["highly_variable"]`` genes when that column exists.
    similarity_obsm_key, required_obsm_keys
        The embedding ``semantic_similar`` compares annotations in, by the workflow's rule:
        ``similarity_obsm_key``, else the first of ``required_obsm_keys``, else ``X_pca``.
    row_block_size
        Rows ranked at a time (memory, not results).

    Returns
    -------
    The same AnnData (modified in place), for chaining.
    """
    matrix, var = _expression(adata, expression_matrix)
    values = var[gene_name_column].to_numpy(dtype=object) if gene_name_column in var else None
    names, warning = resolve_gene_names(
        gene_name_values=values,
        var_index=np.asarray(var.index, dtype=object),
        gene_name_column=gene_name_column,
        chunk_label="adata",
    )
    if warning:
        log.warning(warning)
    hvg = var["highly_variable"].to_numpy(bool) if "highly_variable" in var else None
    builder = CellSentenceBuilder(
        names,
        cs_length=cs_length,
        gene_mask=highly_variable_mask(
            highly_variable=hvg, use_highly_variable=use_highly_variable
        ),
    )
    pieces = [
        builder.build(matrix[start : start + row_block_size]).cast(pa.string())
        for start in range(0, adata.n_obs, row_block_size)
    ]
    sentences = pa.concat_arrays(pieces) if pieces else pa.array([], pa.string())
    adata.obs["sample_id_og"] = np.asarray(adata.obs_names, dtype=object)
    adata.obs["cell_sentence"] = sentences.to_numpy(zero_copy_only=False)
    if annotation_column is not None:
        annotations = as_text(adata.obs[annotation_column].to_numpy())
        if missing_mask(annotations).any():
            raise InputError(
                f"obs column '{annotation_column}' has missing values; semantic sentences need "
                "an annotation for every cell"
            )
        adata.obs["semantic_true"] = append_annotation(sentences, annotations).to_numpy(
            zero_copy_only=False
        )
        key = similarity_embedding(similarity_obsm_key, required_obsm_keys)
        if key not in adata.obsm:
            raise InputError(
                f"semantic_similar compares annotations in obsm[{key!r}], which this AnnData "
                f"does not have (obsm: {list(adata.obsm)}); pass similarity_obsm_key= one of them"
            )
        similar = similar_annotations([annotation_sums(np.asarray(adata.obsm[key]), annotations)])
        adata.obs["semantic_similar"] = append_annotation(
            sentences, [similar[a] for a in annotations]
        ).to_numpy(zero_copy_only=False)
    return adata


@dataclass
class _Chunk:
    name: str
    meta: pa.Table  # sample_idx, caption, batch: as the workflow's meta tables
    sentences: pa.Table
    link: str
    vectors: np.ndarray | None = None  # the mining embedding's unit rows
    without_direction: int = 0
    annotations: np.ndarray | None = None  # text, None where missing


class AnnDataSetConstructor:
    """Build one split of a dataset from AnnData objects, like the workflow does.

    Parameters
    ----------
    dataset_format
        ``"multiplets"``, ``"pairs"`` or ``"single"``.
    negatives_per_sample
        k: odd columns are caption negatives, even ones sentence negatives.
    resolve_negatives
        Add ``negative_i`` with the caption / cell sentence (exactly one sentence key).
    seed, split
        The random stream of a chunk derives from (seed, split, chunk name), as in the workflow.
    on_missing_caption
        ``"drop"`` (counted) or ``"error"``.
    hard_negatives
        Mine the caption negatives, as the config's ``dataset_creation.hard_negatives`` block
        (``obsm_key`` is required here; ``enabled`` may be left out): e.g.
        ``{"obsm_key": "X_pca", "range_max": 50}``. ``add_anndata`` then needs the chunks'
        ``obsm[obsm_key]`` (and takes ``annotation_key`` for the annotation guard).
    """

    def __init__(
        self,
        dataset_format: DatasetFormat = _DEFAULTS["dataset_format"],
        *,
        negatives_per_sample: int = _DEFAULTS["negatives_per_sample"],
        resolve_negatives: bool = _DEFAULTS["resolve_negatives"],
        seed: int = _DEFAULTS["seed"],
        split: str = "train",
        on_missing_caption: Literal["drop", "error"] = _DEFAULTS["on_missing_caption"],
        hard_negatives: dict[str, Any] | None = None,
    ) -> None:
        if dataset_format not in DATASET_FORMATS:
            raise ValueError(
                f"dataset_format={dataset_format!r}: use one of {', '.join(DATASET_FORMATS)}"
            )
        if dataset_format in CAPTION_FORMATS and negatives_per_sample < 1:
            raise ValueError(f"negatives_per_sample={negatives_per_sample}: must be at least 1")
        if on_missing_caption not in ("drop", "error"):
            raise ValueError(f"on_missing_caption={on_missing_caption!r}: use 'drop' or 'error'")
        self.dataset_format = dataset_format
        self.negatives_per_sample = negatives_per_sample if dataset_format in CAPTION_FORMATS else 0
        self.resolve_negatives = resolve_negatives
        self.seed = seed
        self.split = split
        self.on_missing_caption = on_missing_caption
        self.sentence_keys: tuple[str, ...] | None = None
        self.chunks: list[_Chunk] = []
        self.stats: dict = {}
        self.hard_negatives = _hard_negative_spec(hard_negatives, dataset_format)
        self.annotation_key: str | None = None

    def add_anndata(
        self,
        adata: Any,
        sentence_keys: list[str],
        caption_key: str | None = None,
        batch_key: str | None = None,
        adata_link: str | None = None,
        *,
        chunk_name: str | None = None,
        annotation_key: str | None = None,
    ) -> AnnDataSetConstructor:
        """Add one chunk. ``chunk_name`` defaults to the file name of ``adata_link`` without
        its suffix (``.../train/chunk_0.zarr`` -> ``chunk_0``), as the workflow names chunks.
        ``annotation_key``: the obs column of the annotation guard of ``hard_negatives``."""
        keys = tuple(sentence_keys)
        if self.sentence_keys is not None and keys != self.sentence_keys:
            raise ValueError(
                f"sentence_keys {list(keys)} differ from those of the first chunk "
                f"{list(self.sentence_keys)}; every chunk of a dataset needs the same keys"
            )
        if self.resolve_negatives and len(keys) != 1:
            raise ValueError(
                f"resolve_negatives=True needs exactly one sentence key, got {list(keys)}"
            )
        needs_captions = self.dataset_format in CAPTION_FORMATS
        if needs_captions and caption_key is None:
            raise ValueError(f"dataset_format '{self.dataset_format}' needs a caption_key")
        name = chunk_name or (
            chunk_name_of(Path(adata_link)) if adata_link else f"chunk_{len(self.chunks)}"
        )
        if any(c.name == name for c in self.chunks):
            raise ValueError(f"a chunk named '{name}' was already added; pass chunk_name=")
        obs = adata.obs
        for key in [caption_key, batch_key] if needs_captions else []:
            if key is not None and key not in obs:
                raise InputError(f"chunk '{name}': obs column '{key}' not found")
        ids = as_text(np.asarray(adata.obs_names))
        n = len(ids)
        captions = as_text(obs[caption_key].to_numpy()) if needs_captions else np.full(n, None)
        missing = missing_mask(captions) if needs_captions else np.zeros(n, bool)
        if missing.any() and self.on_missing_caption == "error":
            raise InputError(
                f"chunk '{name}': {int(missing.sum())} cell(s) have no caption in '{caption_key}'"
            )
        captions = np.where(missing, None, captions)
        batches = (
            as_text(obs[batch_key].to_numpy())
            if needs_captions and batch_key is not None
            else np.full(n, None)
        )
        columns = {}
        for key in keys:
            if key == "sample_id_og" and key not in obs:
                columns[key] = pa.array(ids, pa.string())
            elif key not in obs:
                hint = " (run create_cell_sentences first)" if key != "sample_id_og" else ""
                raise InputError(f"chunk '{name}': sentence key '{key}' not in obs{hint}")
            else:
                columns[key] = pa.array(as_text(obs[key].to_numpy()), pa.string())
        self.sentence_keys = keys
        vectors, without_direction, annotations = None, 0, None
        mining = self.hard_negatives
        if mining is not None:
            if mining.obsm_key not in adata.obsm:
                raise InputError(
                    f"chunk '{name}': obsm key '{mining.obsm_key}' not found (present: "
                    f"{list(adata.obsm)}); hard_negatives mines in it"
                )
            vectors, without_direction = unit_rows(np.asarray(adata.obsm[mining.obsm_key]))
            if annotation_key is not None and mining.exclude_same_annotation:
                if annotation_key not in obs:
                    raise InputError(f"chunk '{name}': obs column '{annotation_key}' not found")
                annotations = as_text(obs[annotation_key].to_numpy())
            self.annotation_key = annotation_key
        meta = pa.table(
            {
                "sample_idx": pa.array(ids, pa.string()),
                "caption": pa.array(captions, pa.string()),
                "batch": pa.array(batches, pa.string()),
            }
        )
        self.chunks.append(
            _Chunk(
                name=name,
                meta=meta,
                sentences=pa.table(columns),
                link=adata_link or "",
                vectors=vectors,
                without_direction=without_direction,
                annotations=annotations,
            )
        )
        return self

    def get_dataset(self):
        """The split as a ``datasets.Dataset`` with explicit features (the workflow's rows)."""
        import datasets

        if not self.chunks:
            raise ValueError("no AnnData added: call add_anndata first")
        spec = FormatSpec(
            dataset_format=self.dataset_format,
            n_sentences=len(self.sentence_keys),
            negatives_per_sample=self.negatives_per_sample,
            resolve_negatives=self.resolve_negatives,
        )
        ids_all = pd.Series(
            np.concatenate(
                [c.meta.column("sample_idx").to_numpy(zero_copy_only=False) for c in self.chunks]
            )
        )
        if ids_all.duplicated().any():
            raise InputError(
                f"obs names repeat across the added chunks (e.g. "
                f"{list(ids_all[ids_all.duplicated()].unique()[:5])}); make them unique"
            )
        needs_captions = self.dataset_format in CAPTION_FORMATS
        index = index_table([(c.name, c.meta) for c in self.chunks], needs_captions=needs_captions)
        pool = negative_pool(index) if needs_captions else None
        by_name = {c.name: c for c in self.chunks}

        def sentences_of(chunk: str):
            column = by_name[chunk].sentences.column(0)
            return lambda rows: column.take(pa.array(rows)).combine_chunks()

        resolver = SentenceResolver(index, sentences_of)
        embedding = self._embedding(index, pool) if needs_captions else None
        batches: list[pa.RecordBatch] = []
        self.stats = {"chunks": {}}
        for chunk in self.chunks:
            stats: dict = {}
            anchor_rows = negatives = None
            if needs_captions:
                anchor_rows, negatives, counts = negatives_of_chunk(
                    index,
                    pool,
                    split=self.split,
                    chunk=chunk.name,
                    k=self.negatives_per_sample,
                    seed=self.seed,
                    distinct_captions=self.dataset_format == "pairs",
                    mining=self.hard_negatives,
                    embedding=embedding,
                )
                stats["negative_levels"] = counts.to_dict()
            inputs = chunk_shard_inputs(
                spec=spec,
                meta=chunk.meta,
                sentences=chunk.sentences,
                link=chunk.link,
                index=index,
                anchor_rows=anchor_rows,
                negatives=negatives,
                resolver=resolver,
                chunk=chunk.name,
            )
            row_counts = RowCounts()
            batches.extend(shard_batches(spec, inputs, row_counts))
            stats.update(rows=row_counts.rows, samples=len(inputs.anchor_rows))
            stats["pairs_negative_rows_skipped"] = row_counts.pairs_negative_rows_skipped
            self.stats["chunks"][chunk.name] = stats
        table = pa.Table.from_batches(batches, schema=spec.schema())
        return datasets.Dataset(table, info=datasets.DatasetInfo(features=spec.features()))

    def _embedding(self, index: pa.Table, pool):
        """The split's mining embedding (as ``index_split_embedding`` makes it), or None."""
        mining = self.hard_negatives
        if mining is None:
            return None
        in_pool = index.column("pool_pos").to_numpy() >= 0
        vectors = np.concatenate([c.vectors for c in self.chunks])[in_pool]
        annotations = None
        if self.annotation_key is not None and mining.exclude_same_annotation:
            text = np.concatenate([c.annotations for c in self.chunks])[in_pool]
            present = np.array([t is not None and t != "" for t in text], dtype=bool)
            annotations = np.full(text.size, -1, dtype=np.int32)
            _, codes = np.unique(text[present].astype(str), return_inverse=True)
            annotations[present] = codes
        return split_embedding_of(
            vectors,
            annotations,
            pool,
            key=mining.obsm_key,
            annotation_key=self.annotation_key,
            without_direction=sum(c.without_direction for c in self.chunks),
            mining=True,
            seed=self.seed,
        )


def _hard_negative_spec(
    options: dict[str, Any] | None, dataset_format: str
) -> HardNegativeSpec | None:
    """The API's ``hard_negatives`` option as the workflow resolves the config block."""
    if options is None:
        return None
    defaults = dict(_DEFAULTS["hard_negatives"])
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise ValueError(f"hard_negatives: unknown option(s) {unknown}; known: {sorted(defaults)}")
    block = defaults | {"enabled": True} | dict(options)
    if not block["enabled"]:
        return None
    if dataset_format != "multiplets":
        raise ValueError(
            f"hard_negatives: mined negatives are made for the multiplets format, not "
            f"{dataset_format!r}"
        )
    if not block["obsm_key"]:
        raise ValueError("hard_negatives: name the embedding to mine in: obsm_key='X_pca'")
    settings = MiningSettings(  # checks the ranges, the margin and the sampling
        range_min=block["range_min"],
        range_max=block["range_max"],
        sampling=block["sampling"],
        relative_margin=block["relative_margin"],
        exclude_same_annotation=block["exclude_same_annotation"],
    )
    return HardNegativeSpec(obsm_key=block["obsm_key"], **dataclasses.asdict(settings))
