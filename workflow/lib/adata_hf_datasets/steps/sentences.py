"""The cell sentence step of one chunk, and the file it hands to the shard step.

X is read in row blocks, and only when a requested key needs gene lists; the result is
written block by block to an Arrow IPC file, so memory follows one row block.

The file stores gene lists *ranked, not spelled*: one ``list<uint16>`` column (``int32``
beyond 65,535 genes) of the var positions of each cell's top genes, in rank order, with the
gene names once in the schema metadata. Text keys (``sample_id_og``, obs columns) are plain
strings; a semantic key stores its annotation text, appended to the gene list when the file
is read. The ranking (the expensive part) happens once here; the shard step spells the names
straight into the shard (:class:`SentenceFile`). The file is about five times smaller than
the text (2 bytes a gene instead of a name and a space), so the pair of steps writes and reads
about 1 GB less per 50,000 cells of 2,000 genes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..core.formats import GENE_LIST_KEYS, SEMANTIC_KEYS
from ..core.text import plain_text
from ..io.files import Closing, atomic_path
from ..io.reader import ChunkReader
from ..progress import Progress
from ..records import SentenceSpec, SentenceStats
from .validate import OBS_SENTENCE_PREFIX

__all__ = [
    "SentenceFile",
    "meta_sentence_column",
    "sentences_from_meta",
    "stream_sentences",
    "write_chunk_sentences",
]

log = logging.getLogger(__name__)

GENES_COLUMN = "__ranked_genes__"
"""Column of the ranked var positions in a sentence file."""
_METADATA_KEY = b"adata_hf_datasets.sentences"
_FORMAT_VERSION = 1
# Rows spelled at a time when reading: about 40 MB of text for 2,000-gene sentences.
_SPELL_ROWS = 2048
_EMPTY_EXAMPLES = 5


def sentence_schema(keys: tuple[str, ...]) -> pa.Schema:
    """The text schema of a chunk's sentences: one string column per sentence key."""
    return pa.schema([pa.field(key, pa.string()) for key in keys])


@dataclass
class _Block:
    """Rows of a chunk: ranked genes (if asked) and the other keys' text."""

    n_rows: int
    indptr: np.ndarray | None  # int64, per row: its genes in ``positions``
    positions: np.ndarray | None  # var positions, rank order
    text: dict[str, pa.Array]  # sample_id_og and obs keys: their text; semantic keys: suffix


class _ChunkSentences:
    """One chunk opened for the sentence step: its text keys and, when a gene-list key is asked,
    its gene names and ranking."""

    def __init__(
        self,
        reader: ChunkReader,
        spec: SentenceSpec,
        *,
        label: str,
        similar_annotation: Mapping[str, str] | None,
    ) -> None:
        self.reader = reader
        self.spec = spec
        self.label = label
        self.similar_annotation = similar_annotation or {}
        self.obs_text: dict[str, pa.Array] = {}
        for key in spec.sentence_keys:
            if key == "sample_id_og":
                self.obs_text[key] = reader.obs_names_arrow()
            elif key not in GENE_LIST_KEYS:
                self.obs_text[key] = reader.obs_arrow(key).cast(pa.string())
        self.annotations = None
        if SEMANTIC_KEYS.intersection(spec.sentence_keys):
            self.annotations = reader.obs_text(spec.annotation_key)
        self.builder = None
        if GENE_LIST_KEYS.intersection(spec.sentence_keys):
            self.builder = self._builder()

    @property
    def gene_names(self) -> list[str] | None:
        return None if self.builder is None else [str(n) for n in self.builder.gene_names]

    def _builder(self):
        # Imported here: an ids-only job does not load the ranking code (scipy).
        from ..core.genes import highly_variable_mask, resolve_gene_names
        from ..core.ranking import CellSentenceBuilder

        reader, spec, matrix = self.reader, self.spec, self.spec.expression_matrix
        var_columns = reader.var_columns(matrix)
        gene_values = (
            np.asarray(reader.var_column(spec.gene_name_column, matrix), dtype=object)
            if spec.gene_name_column in var_columns
            else None
        )
        gene_names, warning = resolve_gene_names(
            gene_name_values=gene_values,
            var_index=reader.var_names(matrix),
            gene_name_column=spec.gene_name_column,
            chunk_label=self.label,
        )
        if warning:
            log.warning(warning)
        hvg = (
            np.asarray(reader.var_column("highly_variable", matrix), dtype=bool)
            if "highly_variable" in var_columns
            else None
        )
        mask = highly_variable_mask(
            highly_variable=hvg, use_highly_variable=spec.use_highly_variable
        )
        if mask is not None:
            n_kept = int(mask.sum())
            log.info("%s: ranking restricted to %d highly variable genes", self.label, n_kept)
        return CellSentenceBuilder(gene_names, cs_length=spec.cs_length, gene_mask=mask)

    def blocks(self, row_block_size: int) -> Iterator[_Block]:
        """The chunk in row blocks of ``row_block_size`` (one block without gene lists)."""
        n = self.reader.n_obs
        if self.builder is None:
            yield _Block(n, None, None, self.obs_text)
            return
        progress = Progress(log, n, f"cell sentences {self.label}")
        blocks = self.reader.row_blocks(
            self.spec.expression_matrix, block_size=row_block_size, reuse_buffers=True
        )
        for start, stop, block in blocks:
            indptr, positions = self.builder.top_genes(block)
            del block  # memory follows one block, not two
            text = {}
            for key in self.spec.sentence_keys:
                if key == "semantic_true":
                    text[key] = pa.array(self.annotations[start:stop], pa.string())
                elif key == "semantic_similar":
                    similar = [self.similar_annotation[a] for a in self.annotations[start:stop]]
                    text[key] = pa.array(similar, pa.string())
                elif key in self.obs_text:
                    text[key] = self.obs_text[key].slice(start, stop - start)
            yield _Block(stop - start, indptr, positions, text)
            progress.advance(stop - start)
        progress.finish()


def _ranked_schema(keys: tuple[str, ...], gene_names: list[str] | None) -> pa.Schema:
    fields = [pa.field(key, pa.string()) for key in keys if key != "cell_sentence"]
    metadata = {"version": _FORMAT_VERSION, "keys": list(keys)}
    if gene_names is not None:
        value_type = pa.uint16() if len(gene_names) <= 1 << 16 else pa.int32()
        fields.append(pa.field(GENES_COLUMN, pa.large_list(value_type)))
        metadata["gene_names"] = gene_names
    return pa.schema(fields, metadata={_METADATA_KEY: json.dumps(metadata)})


def write_chunk_sentences(
    path: Path,
    out_path: Path,
    spec: SentenceSpec,
    *,
    row_block_size: int,
    similar_annotation: Mapping[str, str] | None = None,
    label: str = "",
) -> SentenceStats:
    """Write the chunk's sentences to an Arrow IPC file, atomically; return how many rows were
    written and which cells got an empty gene list.

    Gene lists are stored ranked (var positions), see the module docstring; read the file
    with :class:`SentenceFile` to get the text. ``similar_annotation``: for
    ``semantic_similar``, each annotation's most similar other (the split index's).
    """
    label = label or str(path)
    rows = 0
    empty: list[np.ndarray] = []
    with ChunkReader(path) as reader, atomic_path(out_path) as tmp:
        chunk = _ChunkSentences(reader, spec, label=label, similar_annotation=similar_annotation)
        schema = _ranked_schema(spec.sentence_keys, chunk.gene_names)
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
            for block in chunk.blocks(row_block_size):
                columns = [block.text[f.name] for f in schema if f.name != GENES_COLUMN]
                if chunk.builder is not None:
                    value_type = schema.field(GENES_COLUMN).type.value_type
                    values = pa.array(block.positions.astype(value_type.to_pandas_dtype()))
                    columns.append(pa.LargeListArray.from_arrays(pa.array(block.indptr), values))
                    empty.append(rows + np.flatnonzero(np.diff(block.indptr) == 0))
                writer.write_batch(pa.record_batch(columns, schema=schema))
                rows += block.n_rows
                del block, columns
        empty_rows = np.concatenate(empty) if empty else np.empty(0, dtype=np.int64)
        examples = []
        if empty_rows.size:
            ids = reader.obs_names_arrow()
            examples = ids.take(pa.array(empty_rows[:_EMPTY_EXAMPLES])).to_pylist()
    return SentenceStats(
        rows=rows, empty_rows=tuple(empty_rows.tolist()), empty_examples=tuple(examples)
    )


class SentenceFile(Closing):
    """A chunk's sentence file, read back as text (columns = the sentence keys).

    ``batches()`` spells one stored batch at a time (memory follows one batch); ``take``
    spells only the rows asked for.
    """

    def __init__(self, path: Path, *, memory_map: bool = False) -> None:
        self.path = Path(path)
        self._source = (
            pa.memory_map(str(self.path), "r") if memory_map else pa.OSFile(str(self.path), "rb")
        )
        self._reader = pa.ipc.open_file(self._source)
        raw = (self._reader.schema.metadata or {}).get(_METADATA_KEY)
        if raw is None:
            self.close()
            raise ValueError(f"{path}: not a sentence file of this version (rerun cell_sentences)")
        meta = json.loads(raw)
        self.keys = tuple(meta["keys"])
        self._gene_names = meta.get("gene_names")
        self.schema = sentence_schema(self.keys)
        self._speller = None
        self._table: pa.Table | None = None

    def close(self) -> None:
        self._source.close()

    def _spell(self, keys: tuple[str, ...], block: _Block) -> list[pa.Array]:
        """The text columns of ``keys`` for one block."""
        sentences = None
        if block.positions is not None:
            if self._speller is None:
                from ..core.spelling import GeneSpeller

                self._speller = GeneSpeller(self._gene_names)
            sentences = self._speller.spell(block.indptr, block.positions).cast(pa.string())
        columns = []
        for key in keys:
            if key == "cell_sentence":
                columns.append(sentences)
            elif key in SEMANTIC_KEYS:
                from ..core.spelling import append_annotation

                columns.append(append_annotation(sentences, block.text[key]).cast(pa.string()))
            else:
                columns.append(block.text[key])
        return columns

    @staticmethod
    def _block(batch: pa.RecordBatch | pa.Table, names: set[str] | None = None) -> _Block:
        """The stored form of some rows (their text columns and ranked genes)."""
        block = _Block(batch.num_rows, None, None, {})
        for name in batch.schema.names:
            if names is not None and name not in names:
                continue
            column = batch.column(name)
            if isinstance(column, pa.ChunkedArray):
                column = column.combine_chunks()
            if name != GENES_COLUMN:
                block.text[name] = column
                continue
            offsets = column.offsets.to_numpy()
            block.positions = column.values.to_numpy()[offsets[0] : offsets[-1]]
            block.indptr = (offsets - offsets[0]).astype(np.int64, copy=False)
        return block

    def batches(self, *, max_rows: int = _SPELL_ROWS) -> Iterator[pa.RecordBatch]:
        """The text in row order, at most ``max_rows`` rows a batch (one stored batch read)."""
        for i in range(self._reader.num_record_batches):
            stored = self._reader.get_batch(i)
            for start in range(0, stored.num_rows, max_rows):
                block = self._block(stored.slice(start, max_rows))
                yield pa.record_batch(self._spell(self.keys, block), schema=self.schema)
            del stored

    def take(self, rows: np.ndarray, key: str | None = None) -> pa.Array:
        """Text of ``key`` (default: the first sentence key) at chunk ``rows``."""
        key = key or self.keys[0]
        if self._table is None:
            self._table = self._reader.read_all()  # the stored form: small
        needed = {key, GENES_COLUMN} if key in GENE_LIST_KEYS else {key}
        taken = self._table.select(
            [name for name in self._table.schema.names if name in needed]
        ).take(pa.array(np.asarray(rows, dtype=np.int64)))
        return self._spell((key,), self._block(taken))[0]


def stream_sentences(path: Path) -> pa.RecordBatchReader:
    """The chunk's sentences as text, batch by batch, read (not mapped) one batch at a time.

    For a pass over all rows in order: memory follows one batch whatever the chunk size.
    """
    sentences = SentenceFile(path)

    def batches():
        try:
            yield from sentences.batches()
        finally:
            sentences.close()

    return pa.RecordBatchReader.from_batches(sentences.schema, batches())


def meta_sentence_column(key: str) -> str:
    """The meta-table column that holds a sentence key without gene lists."""
    return "sample_idx" if key == "sample_id_og" else OBS_SENTENCE_PREFIX + key


def sentences_from_meta(meta: pa.Table, keys: tuple[str, ...]) -> pa.RecordBatchReader:
    """A chunk's sentences when no key needs a gene list (ids, obs columns): taken from its
    meta table, so no sentence job runs. Batches as :func:`stream_sentences` gives them."""
    schema = sentence_schema(keys)
    table = pa.table(
        [plain_text(meta.column(meta_sentence_column(key))) for key in keys],
        schema=schema,
    )
    return pa.RecordBatchReader.from_batches(schema, table.to_batches(max_chunksize=_SPELL_ROWS))
