"""The cell sentence step of one chunk: one text column per sentence key, in chunk row order.

X is read in row blocks, and only when a requested key needs gene lists; the sentences are
written block by block to an Arrow IPC file, so memory follows one row block.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from .anndata_io import ChunkReader
from .config import GENE_LIST_KEYS
from .progress import Progress

log = logging.getLogger(__name__)


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


def iter_sentence_batches(path: Path, spec: SentenceSpec, *, label: str = ""):
    """Yield record batches of the chunk's sentences (columns = ``spec.sentence_keys``)."""
    from .sentences import (
        CellSentenceBuilder,
        append_annotation,
        highly_variable_mask,
        resolve_gene_names,
    )

    label = label or str(path)
    schema = sentence_schema(spec.sentence_keys)
    with ChunkReader(path) as reader:
        n = reader.n_obs
        obs_text: dict[str, pa.Array] = {}
        for key in spec.sentence_keys:
            if key == "sample_id_og":
                obs_text[key] = _text_array(reader.obs_names())
            elif key not in GENE_LIST_KEYS:
                obs_text[key] = _text_array(reader.obs_text(key))
        annotations = None
        if GENE_LIST_KEYS.intersection(spec.sentence_keys) - {"cell_sentence"}:
            annotations = reader.obs_text(spec.annotation_key)

        if not GENE_LIST_KEYS.intersection(spec.sentence_keys):
            yield pa.record_batch([obs_text[k] for k in spec.sentence_keys], schema=schema)
            return

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
        progress = Progress(log, n, f"cell sentences {label}")
        for start, stop, block in reader.row_blocks(matrix, block_size=spec.row_block_size):
            sentences = builder.build(block).cast(pa.string())
            columns = []
            for key in spec.sentence_keys:
                if key == "cell_sentence":
                    columns.append(sentences)
                elif key == "semantic_true":
                    columns.append(append_annotation(sentences, annotations[start:stop]))
                elif key == "semantic_similar":
                    similar = [spec.similar_annotation[a] for a in annotations[start:stop]]
                    columns.append(append_annotation(sentences, similar))
                else:
                    columns.append(obs_text[key].slice(start, stop - start))
            yield pa.record_batch([c.cast(pa.string()) for c in columns], schema=schema)
            progress.advance(stop - start)
        progress.finish()


def write_chunk_sentences(
    path: Path, out_path: Path, spec: SentenceSpec, *, label: str = ""
) -> int:
    """Write the chunk's sentences to an Arrow IPC file (random access for resolved negatives)."""
    rows = 0
    with (
        pa.OSFile(str(out_path), "wb") as sink,
        pa.ipc.new_file(sink, sentence_schema(spec.sentence_keys)) as writer,
    ):
        for batch in iter_sentence_batches(path, spec, label=label):
            writer.write_batch(batch)
            rows += batch.num_rows
    return rows


def read_sentences(path: Path) -> pa.Table:
    """Memory-mapped sentences of a chunk (pages are read only where rows are taken)."""
    return pa.ipc.open_file(pa.memory_map(str(path), "r")).read_all()
