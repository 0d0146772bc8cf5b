"""The cell sentence step of one chunk: one sentence column per sentence key, in chunk row order.

X is read in row blocks, and only when a requested key needs gene lists; the result is
written block by block to an Arrow IPC file, so memory follows one row block.

The file between this step and the shard step stores gene lists *ranked, not spelled*: one
``list<uint16>`` column (``int32`` beyond 65,535 genes) of the var positions of each cell's
top genes, in rank order, with the gene names once in the schema metadata. Text keys
(``sample_id_og``, obs columns) are plain strings; a semantic key stores its annotation text,
appended to the gene list when the file is read. The ranking (the expensive part) happens
once here; the shard step spells the names straight into the shard. That file is about five
times smaller than the text (2 bytes a gene instead of a name and a space), so the pair of
steps writes and reads about 1 GB less per 50,000 cells of 2,000 genes. :class:`SentenceFile`
reads it back as text (files with plain text columns, from earlier versions, read as they are).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from .anndata_io import ChunkReader
from .config import GENE_LIST_KEYS
from .progress import Progress

log = logging.getLogger(__name__)

GENES_COLUMN = "__ranked_genes__"
"""Column of the ranked var positions in a sentence file."""
_METADATA_KEY = b"adata_hf_datasets.sentences"
_FORMAT_VERSION = 1
# Rows spelled at a time when reading: about 40 MB of text for 2,000-gene sentences.
_SPELL_ROWS = 2048


@dataclass(frozen=True)
class SentenceSpec:
    """What the sentence step needs from the configuration (and nothing else)."""

    sentence_keys: tuple[str, ...]
    gene_name_column: str = "gene_name"
    cs_length: int = 4096
    expression_matrix: str = "X"
    use_highly_variable: bool = True
    annotation_key: str | None = None
    similar_annotation: dict[str, str] = field(default_factory=dict)
    row_block_size: int = 10_000


def sentence_schema(keys: tuple[str, ...]) -> pa.Schema:
    return pa.schema([pa.field(key, pa.string()) for key in keys])


def _text_array(values: np.ndarray) -> pa.Array:
    return pa.array(values, pa.string())


@dataclass
class _Block:
    """One row block of a chunk: ranked genes (if asked) and the other keys' text."""

    start: int
    stop: int
    indptr: np.ndarray | None  # int64, per row: its genes in ``positions``
    positions: np.ndarray | None  # int32 var positions, rank order
    text: dict[str, pa.Array]  # sample_id_og and obs keys: their text; semantic keys: suffix


def _iter_blocks(path: Path, spec: SentenceSpec, label: str, state: dict) -> Iterator[_Block]:
    """The chunk block by block; ``state["builder"]`` is set once the gene names are known."""
    with ChunkReader(path) as reader:
        n = reader.n_obs
        obs_text: dict[str, pa.Array] = {}
        for key in spec.sentence_keys:
            if key == "sample_id_og":
                obs_text[key] = reader.obs_names_arrow()
            elif key not in GENE_LIST_KEYS:
                obs_text[key] = reader.obs_arrow(key).cast(pa.string())
        annotations = None
        if GENE_LIST_KEYS.intersection(spec.sentence_keys) - {"cell_sentence"}:
            annotations = reader.obs_text(spec.annotation_key)

        if not GENE_LIST_KEYS.intersection(spec.sentence_keys):
            yield _Block(0, n, None, None, obs_text)
            return

        # Imported here: an ids-only job does not load the ranking code (pandas, scipy).
        from .sentences import CellSentenceBuilder, highly_variable_mask, resolve_gene_names

        matrix = spec.expression_matrix
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
            chunk_label=label,
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
            log.info("%s: ranking restricted to %d highly variable genes", label, int(mask.sum()))
        builder = CellSentenceBuilder(gene_names, cs_length=spec.cs_length, gene_mask=mask)
        state["builder"] = builder
        progress = Progress(log, n, f"cell sentences {label}")
        blocks = reader.row_blocks(matrix, block_size=spec.row_block_size, reuse_buffers=True)
        for start, stop, block in blocks:
            indptr, positions = builder.top_genes(block)
            del block  # memory follows one block, not two
            text = {}
            for key in spec.sentence_keys:
                if key == "semantic_true":
                    text[key] = _text_array(annotations[start:stop])
                elif key == "semantic_similar":
                    similar = [spec.similar_annotation[a] for a in annotations[start:stop]]
                    text[key] = pa.array(similar, pa.string())
                elif key in obs_text:
                    text[key] = obs_text[key].slice(start, stop - start)
            yield _Block(start, stop, indptr, positions, text)
            progress.advance(stop - start)
        progress.finish()


def _spell(builder, keys: tuple[str, ...], block: _Block) -> list[pa.Array]:
    """The text columns of ``keys`` for one block."""
    sentences = None
    if block.positions is not None:
        sentences = builder.sentences_from_positions(block.indptr, block.positions).cast(
            pa.string()
        )
    columns = []
    for key in keys:
        if key == "cell_sentence":
            columns.append(sentences)
        elif key in ("semantic_true", "semantic_similar"):
            # imported here: files of ids only are read without the ranking code (scipy)
            from .sentences import append_annotation

            columns.append(append_annotation(sentences, block.text[key]).cast(pa.string()))
        else:
            columns.append(block.text[key])
    return columns


def iter_sentence_batches(path: Path, spec: SentenceSpec, *, label: str = ""):
    """Yield record batches of the chunk's sentences (columns = ``spec.sentence_keys``)."""
    label = label or str(path)
    schema = sentence_schema(spec.sentence_keys)
    state: dict = {}
    for block in _iter_blocks(path, spec, label, state):
        columns = _spell(state.get("builder"), spec.sentence_keys, block)
        del block
        yield pa.record_batch(columns, schema=schema)
        del columns


def _ranked_schema(keys: tuple[str, ...], gene_names: list[str] | None) -> pa.Schema:
    fields = [pa.field(key, pa.string()) for key in keys if key != "cell_sentence"]
    metadata = {"version": _FORMAT_VERSION, "keys": list(keys)}
    if gene_names is not None:
        value_type = pa.uint16() if len(gene_names) <= 1 << 16 else pa.int32()
        fields.append(pa.field(GENES_COLUMN, pa.large_list(value_type)))
        metadata["gene_names"] = gene_names
    return pa.schema(fields, metadata={_METADATA_KEY: json.dumps(metadata)})


def write_chunk_sentences(
    path: Path, out_path: Path, spec: SentenceSpec, *, label: str = ""
) -> int:
    """Write the chunk's sentences to an Arrow IPC file; return the number of rows.

    Gene lists are stored ranked (var positions), see the module docstring; read the file
    with :class:`SentenceFile` (or :func:`read_sentences`) to get the text.
    """
    label = label or str(path)
    state: dict = {}
    rows = 0
    writer = None
    with pa.OSFile(str(out_path), "wb") as sink:
        try:
            for block in _iter_blocks(path, spec, label, state):
                builder = state.get("builder")
                if writer is None:
                    names = None if builder is None else [str(n) for n in builder.gene_names]
                    schema = _ranked_schema(spec.sentence_keys, names)
                    writer = pa.ipc.new_file(sink, schema)
                columns = [block.text[f.name] for f in schema if f.name != GENES_COLUMN]
                if builder is not None:
                    value_type = schema.field(GENES_COLUMN).type.value_type
                    values = pa.array(block.positions.astype(value_type.to_pandas_dtype()))
                    columns.append(pa.LargeListArray.from_arrays(pa.array(block.indptr), values))
                writer.write_batch(pa.record_batch(columns, schema=schema))
                rows += block.stop - block.start
                del block, columns
            if writer is None:  # a chunk without rows
                builder = state.get("builder")
                names = None if builder is None else [str(n) for n in builder.gene_names]
                writer = pa.ipc.new_file(sink, _ranked_schema(spec.sentence_keys, names))
        finally:
            if writer is not None:
                writer.close()
    return rows


class SentenceFile:
    """A chunk's sentence file, read back as text (columns = the sentence keys).

    ``batches()`` spells one stored batch at a time (memory follows one batch); ``take``
    spells only the rows asked for. Files with plain text columns are read as they are.
    """

    def __init__(self, path: Path, *, memory_map: bool = False) -> None:
        self.path = Path(path)
        self._source = (
            pa.memory_map(str(self.path), "r") if memory_map else pa.OSFile(str(self.path), "rb")
        )
        self._reader = pa.ipc.open_file(self._source)
        schema = self._reader.schema
        raw = (schema.metadata or {}).get(_METADATA_KEY)
        self._ranked = raw is not None
        if self._ranked:
            meta = json.loads(raw)
            self.keys = tuple(meta["keys"])
            self._gene_names = meta.get("gene_names")
        else:
            self.keys = tuple(schema.names)
            self._gene_names = None
        self.schema = sentence_schema(self.keys)
        self._builder = None
        self._table: pa.Table | None = None

    def close(self) -> None:
        self._source.close()

    def __enter__(self) -> SentenceFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _spell_builder(self):
        if self._builder is None and self._gene_names is not None:
            from .sentences import CellSentenceBuilder

            self._builder = CellSentenceBuilder(
                np.array(self._gene_names, dtype=object), cs_length=1
            )
        return self._builder

    def _spell_batch(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        if not self._ranked:
            return batch
        block = _Block(0, batch.num_rows, None, None, {})
        for name in batch.schema.names:
            if name != GENES_COLUMN:
                block.text[name] = batch.column(name)
        if GENES_COLUMN in batch.schema.names:
            genes = batch.column(GENES_COLUMN)
            offsets = genes.offsets.to_numpy()
            values = genes.values.to_numpy()
            block.positions = values[offsets[0] : offsets[-1]]
            block.indptr = (offsets - offsets[0]).astype(np.int64, copy=False)
        return pa.record_batch(_spell(self._spell_builder(), self.keys, block), schema=self.schema)

    def batches(self, *, max_rows: int = _SPELL_ROWS) -> Iterator[pa.RecordBatch]:
        """The text in row order, at most ``max_rows`` rows a batch (one stored batch read)."""
        for i in range(self._reader.num_record_batches):
            stored = self._reader.get_batch(i)
            for start in range(0, stored.num_rows, max_rows):
                yield self._spell_batch(stored.slice(start, max_rows))
            del stored

    def reader(self) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(self.schema, self.batches())

    def read_all(self) -> pa.Table:
        return pa.Table.from_batches(list(self.batches()), schema=self.schema)

    def take(self, rows: np.ndarray, key: str | None = None) -> pa.Array:
        """Text of ``key`` (default: the first sentence key) at chunk ``rows``."""
        key = key or self.keys[0]
        if self._table is None:
            self._table = self._reader.read_all()  # stored form: small for ranked files
        indices = pa.array(np.asarray(rows, dtype=np.int64))
        if not self._ranked:
            taken = self._table.column(key).take(indices)
            return taken.combine_chunks() if isinstance(taken, pa.ChunkedArray) else taken
        needed = {key}
        if key in GENE_LIST_KEYS:
            needed.add(GENES_COLUMN)
        arrays = {
            name: self._table.column(name).take(indices).combine_chunks()
            for name in self._table.schema.names
            if name in needed
        }
        block = _Block(0, len(indices), None, None, {})
        if key in arrays:
            block.text[key] = arrays[key]
        if GENES_COLUMN in arrays:
            genes = arrays[GENES_COLUMN]
            offsets = genes.offsets.to_numpy()
            block.positions = genes.values.to_numpy()[offsets[0] : offsets[-1]]
            block.indptr = (offsets - offsets[0]).astype(np.int64, copy=False)
        return _spell(self._spell_builder(), (key,), block)[0]


def read_sentences(path: Path) -> pa.Table:
    """The chunk's sentences as a text table (columns = the sentence keys)."""
    with SentenceFile(path, memory_map=True) as sentences:
        return sentences.read_all()


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
