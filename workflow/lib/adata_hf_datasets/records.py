"""The typed records that pass between the workflow's steps, and the JSON files they travel in.

A step writes one of these records and a later step reads it back (``Record.write`` /
``Record.read``). A field that is renamed, missing or of the wrong kind fails when the file is
read, naming the file and the field, not as a ``KeyError`` somewhere in a later job.

=====================  ==================  ===========================================
record                 written by          read by
=====================  ==================  ===========================================
:class:`ChunkReport`   ``validate_chunk``  ``check_inputs``, ``split_index``
:class:`InputsSummary` ``check_inputs``    ``build_dataset`` (warnings, embeddings)
:class:`SplitInfo`     ``split_index``     ``build_dataset``
:class:`SentenceStats` ``cell_sentences``  ``split_index`` (to drop), ``build_dataset``
:class:`SplitNegativeQuality`  ``measure_negative_quality``  ``build_dataset`` (summary, card, plot)
:class:`ShardStats`    ``write_shard``     ``build_dataset``
:class:`SplitRecord`   ``build_dataset``   (``summary.json``)
:class:`BuiltDataset`  ``build_dataset``   ``push_to_hub`` (where the dataset is)
:class:`CardSettings`  the rules (config)  ``build_dataset``, ``push_to_hub``
=====================  ==================  ===========================================

The settings a step takes from the configuration are records too (:class:`InspectionSpec`,
:class:`SentenceSpec`; the format's :class:`~adata_hf_datasets.core.formats.FormatSpec`), made
by :class:`~adata_hf_datasets.config.Settings` and passed to the jobs as ``params`` (plain JSON:
Snakemake reruns a job when they change, and a job unpickles them without importing anything).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from .core.negative_quality import PairTally
from .errors import AdataHfError
from .io.files import read_json, write_json

__all__ = [
    "AnnotationSums",
    "BuiltDataset",
    "CardSettings",
    "ChunkReport",
    "DroppedRows",
    "GeneDuplicates",
    "HardNegativeSpec",
    "InputRules",
    "InputsSummary",
    "InspectionSpec",
    "NegativeColumnQuality",
    "Record",
    "RecordError",
    "SentenceSpec",
    "SentenceStats",
    "ShardRef",
    "ShardStats",
    "SimilarityTally",
    "SplitInfo",
    "SplitInputs",
    "SplitNegativeQuality",
    "SplitRecord",
]

R = TypeVar("R", bound="Record")


class RecordError(AdataHfError, ValueError):
    """A record file does not hold what its step writes (a file of an older version, or edited)."""


def _convert(value: Any, hint: Any, where: str) -> Any:
    """``value`` (as read from JSON) as the type ``hint`` of a record field."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if value is None:
            return None
        return _convert(value, options[0], where)
    if isinstance(hint, type) and issubclass(hint, Record):
        if not isinstance(value, dict):
            raise RecordError(f"{where}: expected an object, got {type(value).__name__}")
        return hint._from_json(value, where)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise RecordError(f"{where}: expected a list, got {type(value).__name__}")
        item = typing.get_args(hint)[0]
        return tuple(_convert(v, item, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise RecordError(f"{where}: expected an object, got {type(value).__name__}")
        item = typing.get_args(hint)[1]
        return {k: _convert(v, item, f"{where}.{k}") for k, v in value.items()}
    return value


class Record:
    """A frozen dataclass that converts to and from plain JSON.

    Tuples travel as JSON lists, nested records as objects; ``from_json`` rejects unknown and
    missing fields.
    """

    def to_json(self) -> dict[str, Any]:
        """The record as plain JSON values (nested records as dicts, tuples as lists)."""
        return _plain(dataclasses.asdict(self))  # type: ignore[call-overload]

    @classmethod
    def from_json(cls: type[R], data: dict[str, Any]) -> R:
        """The record from :meth:`to_json`'s output."""
        return cls._from_json(data, cls.__name__)

    @classmethod
    def _from_json(cls: type[R], data: dict[str, Any], where: str) -> R:
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - set(fields))
        required = {
            name
            for name, f in fields.items()
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        }
        missing = sorted(required - set(data))
        if unknown or missing:
            raise RecordError(
                f"{where}: not a {cls.__name__} of this version (unknown fields {unknown}, "
                f"missing fields {missing}); rerun the step that writes it"
            )
        return cls(**{k: _convert(v, hints[k], f"{where}.{k}") for k, v in data.items()})

    def write(self, path: str | Path) -> None:
        """Write the record as JSON, atomically."""
        write_json(path, self.to_json())

    @classmethod
    def read(cls: type[R], path: str | Path) -> R:
        """Read a record written by :meth:`write`."""
        return cls._from_json(read_json(path), str(path))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


# ------------------------------------------------------------------------- step settings


@dataclass(frozen=True)
class InspectionSpec(Record):
    """What ``validate_chunk`` checks in every chunk: only what the configuration asks for
    (a key that is not asked for is None)."""

    caption_key: str | None
    batch_key: str | None
    annotation_key: str | None
    required_obsm_keys: tuple[str, ...]
    obs_sentence_columns: tuple[str, ...]
    """Sentence keys that are plain obs columns."""
    expression_matrix: str | None
    """The ranking matrix; None when no gene-list key is asked."""
    gene_name_column: str | None
    similarity_obsm_key: str | None
    """The embedding of ``semantic_similar`` (its per-annotation sums are computed here)."""

    @property
    def needs_captions(self) -> bool:
        return self.caption_key is not None

    @property
    def needs_expression(self) -> bool:
        return self.expression_matrix is not None

    @property
    def needs_annotation(self) -> bool:
        return self.annotation_key is not None


@dataclass(frozen=True)
class HardNegativeSpec(Record):
    """The ``hard_negatives`` block when it is enabled (DESIGN.md section 4b), resolved:
    ``obsm_key`` is set, and ``exclude_same_annotation`` is false without an annotation."""

    obsm_key: str
    range_min: int = 0
    range_max: int = 50
    sampling: Literal["random", "top"] = "random"
    relative_margin: float | None = 0.05
    exclude_same_annotation: bool = True


@dataclass(frozen=True)
class SentenceSpec(Record):
    """What ``cell_sentences`` needs from the configuration (and nothing else).

    The gene-list settings are None when no gene-list key is asked: editing them then reruns
    nothing. How many rows of X are read at a time is not here: it changes memory, not results.
    """

    sentence_keys: tuple[str, ...]
    gene_name_column: str | None = None
    cs_length: int | None = None
    expression_matrix: str | None = None
    use_highly_variable: bool | None = None
    annotation_key: str | None = None


@dataclass(frozen=True)
class InputRules(Record):
    """How ``check_inputs`` judges what validation found (the settings that give facts their
    meaning; none of them changes what validation reads)."""

    on_missing_caption: Literal["drop", "error"]
    caption_key: str | None
    batch_key: str | None
    gene_name_column: str | None
    """The configured gene-name column; None when no gene-list key is asked."""
    gene_name_column_explicit: bool
    """The config sets ``gene_name_column``: a chunk without that column is an error (else
    ``var.index`` is used, with a warning)."""
    use_highly_variable: bool
    min_pool: int
    """Cells (with a caption, in caption formats) a split needs: 2 with negatives, else 1."""


# ------------------------------------------------------------------------- validate_chunk


@dataclass(frozen=True)
class AnnotationSums(Record):
    """Per annotation value of one chunk: the sum of its cells' embedding vectors and their
    count (``semantic_similar`` adds them over the split's chunks to get centroids)."""

    labels: tuple[str, ...]
    sums: tuple[tuple[float, ...], ...]
    counts: tuple[int, ...]


@dataclass(frozen=True)
class ChunkReport(Record):
    """What ``validate_chunk`` found in one chunk (it never reads X).

    ``problems`` are what no setting can fix; the facts below are judged by ``check_inputs``
    with the settings that decide what they mean (``on_missing_caption``, whether
    ``gene_name_column`` was set, ``use_highly_variable``), so editing those settings reruns
    only that cheap check.
    """

    path: str
    n_obs: int = 0
    obsm_keys: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    """Each names the file, the key and the fix; ``check_inputs`` fails on any."""
    n_missing_caption: int = 0
    missing_caption_examples: tuple[str, ...] = ()
    n_missing_batch: int = 0
    missing_batch_examples: tuple[str, ...] = ()
    gene_name_column_missing: bool = False
    """``var`` has no ``gene_name_column``: gene names would come from ``var.index``."""
    var_columns: tuple[str, ...] = ()
    duplicate_genes: GeneDuplicates | None = None
    """Gene names that occur more than once (a sentence would name a gene twice)."""
    annotation_sums: AnnotationSums | None = None


@dataclass(frozen=True)
class GeneDuplicates(Record):
    """Repeated gene names of a chunk, among all genes and among the highly variable ones (the
    only ones ranked when ``var["highly_variable"]`` exists and ``use_highly_variable``)."""

    count: int
    examples: tuple[str, ...]
    count_highly_variable: int
    examples_highly_variable: tuple[str, ...]


# ------------------------------------------------------------------------- check_inputs


@dataclass(frozen=True)
class SplitInputs(Record):
    """One split's input chunks, as ``check_inputs`` saw them."""

    chunks: int
    cells: int
    missing_caption: int = 0
    missing_batch: int = 0
    warnings: tuple[str, ...] = ()
    """What the user gets differently (dropped cells, fall-backs), each naming the chunk."""
    obsm_keys: tuple[str, ...] = ()
    """Embeddings present in every chunk of the split."""
    file_formats: tuple[str, ...] = ()
    """``zarr`` and/or ``h5ad``."""


@dataclass(frozen=True)
class InputsSummary(Record):
    """Every split's inputs; written only when no chunk has a problem."""

    splits: dict[str, SplitInputs] = field(default_factory=dict)


# ------------------------------------------------------------------------- split_index


@dataclass(frozen=True)
class SplitInfo(Record):
    """The split index of one split, in numbers."""

    cells: int
    pool: int
    """Cells that can be anchors and negatives (in caption formats: those with a caption)."""
    dropped_missing_caption: int
    batches: int
    captions: int
    chunks: tuple[str, ...]
    dropped_empty_sentence: int = 0
    """Cells left out for an empty gene list (``on_empty_sentence: drop``)."""


# ------------------------------------------------------------------------- cell_sentences


@dataclass(frozen=True)
class SentenceStats(Record):
    """One chunk's sentences: how many cells got an empty gene list (no expressed gene among
    the ranked ones), which rows, and examples of their ids."""

    rows: int
    empty_rows: tuple[int, ...] = ()
    empty_examples: tuple[str, ...] = ()


# ------------------------------------------------------------------------- measure_negative_quality


@dataclass(frozen=True)
class SimilarityTally(Record):
    """A :class:`~adata_hf_datasets.core.negative_quality.PairTally` as it travels."""

    pairs: int = 0
    similarity_sum: float = 0.0
    histogram: tuple[int, ...] = ()
    """Cosine counts in 200 bins over [-1, 1]; empty without an embedding."""
    same_batch: int = 0
    same_caption: int = 0
    same_annotation: int = 0
    annotated: int = 0

    @classmethod
    def of(cls, tally: PairTally) -> SimilarityTally:
        return cls(
            pairs=tally.count,
            similarity_sum=tally.similarity_sum,
            histogram=tuple(tally.histogram_list()),
            same_batch=tally.same_batch,
            same_caption=tally.same_caption,
            same_annotation=tally.same_annotation,
            annotated=tally.annotated,
        )

    def tally(self) -> PairTally:
        import numpy as np

        return PairTally(
            count=self.pairs,
            similarity_sum=self.similarity_sum,
            histogram=np.asarray(self.histogram, dtype=np.int64) if self.histogram else None,
            same_batch=self.same_batch,
            same_caption=self.same_caption,
            same_annotation=self.same_annotation,
            annotated=self.annotated,
        )


@dataclass(frozen=True)
class NegativeColumnQuality(Record):
    """One negative column of a split: its pairs with their anchors, and how often one cell is
    the negative of several anchors."""

    column: str
    """``negative_{i}_idx``."""
    kind: Literal["caption", "sentence"]
    mined: bool
    tally: SimilarityTally
    reuse_max: int
    reuse_p99: int


@dataclass(frozen=True)
class SplitNegativeQuality(Record):
    """How hard and how clean one split's negatives are (DESIGN.md section 4b)."""

    embedding: str | None
    """The obsm key the similarities are measured in; None: no embedding (fractions only)."""
    annotation_key: str | None
    vectors_without_direction: int
    """Cells whose vector is zero or not finite (cosine 0 with every cell)."""
    positive_reference: SimilarityTally
    """Each anchor's cosine with the centroid of the other cells of its caption."""
    baseline: SimilarityTally
    """One random same-batch, different-caption cell per anchor: what chance gives."""
    columns: tuple[NegativeColumnQuality, ...]


# ------------------------------------------------------------------------- write_shard


@dataclass(frozen=True)
class ShardStats(Record):
    """One chunk's shard."""

    chunk: str
    rows: int
    samples: int
    """Anchors (cells) in the shard; in ``pairs`` each gives several rows."""
    sha256: str
    dropped: int = 0
    """Cells of the chunk that are not in the shard (no caption, an empty gene list)."""
    pairs_negative_rows_skipped: int = 0


# ------------------------------------------------------------------------- build_dataset


@dataclass(frozen=True)
class ShardRef(Record):
    path: str
    sha256: str


@dataclass(frozen=True)
class DroppedRows(Record):
    missing_caption: int = 0
    empty_sentence: int = 0
    pairs_negative_rows_skipped: int = 0


@dataclass(frozen=True)
class SplitRecord(Record):
    """What one split contributes to the dataset: its shards in order and its statistics."""

    shards: tuple[ShardRef, ...]
    rows: int
    samples: int
    cells: int
    chunks: int
    dropped: DroppedRows
    captions: int
    batches: int
    negative_levels: dict[str, int]
    """Negatives drawn at each level (see ``FallbackCounts``), summed over the chunks."""
    empty_sentences: int = 0
    """Cells whose gene list is empty (kept, or left out with ``on_empty_sentence: drop``)."""
    empty_sentence_examples: tuple[str, ...] = ()


# ------------------------------------------------------------------------- build_dataset


@dataclass(frozen=True)
class BuiltDataset(Record):
    """The dataset folder a ``build_dataset`` job completed (the rule's output: the folder itself
    is not a Snakemake output, so that Snakemake never deletes it before a rebuild)."""

    path: str
    dataset_id: str
    rows: dict[str, int]
    """Rows per split."""


# ------------------------------------------------------------------------- the dataset card


@dataclass(frozen=True)
class CardSettings(Record):
    """The configuration the dataset card depends on (and nothing else)."""

    dataset_name: str
    dataset_format: str
    caption_key: str | None
    sentence_keys: tuple[str, ...]
    negatives_per_sample: int
    resolve_negatives: bool
    cs_length: int
    use_nextcloud: bool
    base_repo_id: str | None = None
    card_template: str | None = None
    """Absolute path of the user's template; None: the package's default template."""
    embedding_generation: str | None = None
    dataset_type_explanation: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    hard_negatives: HardNegativeSpec | None = None
    """The mining settings, when the caption negatives are mined."""
