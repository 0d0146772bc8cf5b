"""Check the chunks before any heavy work: one cheap inspection per chunk, one gate for all.

``inspect_chunk`` reads obs columns, obsm keys and var columns (never X) and returns the chunk's
meta table (ids, captions, batches) and a report of problems. ``check_inputs`` gathers the
reports of every chunk of every split and fails once, listing all problems together.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..core.semantic import annotation_sums
from ..core.text import missing_text, plain_text
from ..errors import InputError
from ..io.files import read_table, write_table
from ..io.reader import ChunkReader, ChunkReadError
from ..records import (
    AnnotationSums,
    ChunkReport,
    GeneDuplicates,
    InputRules,
    InputsSummary,
    InspectionSpec,
    SplitInputs,
)

__all__ = ["OBS_SENTENCE_PREFIX", "check_inputs", "inspect_chunk", "write_inspection"]

OBS_SENTENCE_PREFIX = "obs:"
"""Meta-table columns of the sentence keys that are obs columns (``obs:cell_type``): without a
gene-list key the shard takes its sentences from the meta table, and no sentence job runs."""

# pandas is imported only to describe duplicate ids: a validation job reads obs as Arrow.

MAX_EXAMPLES = 5


def _examples(values: Iterable) -> str:
    values = list(values)
    shown = ", ".join(repr(v) for v in values[:MAX_EXAMPLES])
    more = f" and {len(values) - MAX_EXAMPLES} more" if len(values) > MAX_EXAMPLES else ""
    return f"{shown}{more}"


def _where(values: pa.Array, mask: np.ndarray) -> list:
    """The values at ``mask`` (for examples in messages)."""
    return values.filter(pa.array(mask)).to_pylist()


def _as_string(values: pa.Array | None, n: int) -> pa.Array:
    """A meta column: plain strings (a dictionary column decoded), all null when absent."""
    return pa.nulls(n, pa.string()) if values is None else plain_text(values)


def inspect_chunk(path: Path, spec: InspectionSpec) -> tuple[pa.Table, ChunkReport]:
    """Inspect one chunk without reading its expression matrix.

    Returns
    -------
    meta
        One row per cell in chunk order: ``sample_idx``, ``caption``, ``batch``, ``annotation``
        (text, null where missing or not configured), and the text of the sentence keys that
        are obs columns (``obs:<key>``).
    report
        What was found: problems (each names the file, the key and the fix), and the facts
        ``check_inputs`` judges (cells without a caption or a batch, the gene-name column,
        repeated gene names), and for ``semantic_similar`` per-annotation embedding sums.
    """
    path = Path(path)
    problems: list[str] = []
    found: dict = {}

    def report() -> ChunkReport:
        return ChunkReport(path=str(path), problems=tuple(problems), **found)

    empty = pa.table(
        {
            name: pa.array([], pa.string())
            for name in ("sample_idx", "caption", "batch", "annotation")
        }
    )
    try:
        reader = ChunkReader(path)
    except ChunkReadError as error:
        problems.append(str(error))
        return empty, report()

    with reader:
        found["n_obs"] = reader.n_obs
        found["obsm_keys"] = tuple(reader.obsm_keys)
        if reader.n_obs == 0:
            problems.append(
                f"{path}: the chunk has no cells (n_obs = 0); remove it or re-export it"
            )
            return empty, report()

        missing_obsm = [k for k in spec.required_obsm_keys if k not in reader.obsm_keys]
        if missing_obsm:
            problems.append(
                f"{path}: missing required obsm key(s) {missing_obsm} (present: "
                f"{reader.obsm_keys}); run the embedding step or adjust "
                "dataset_creation.required_obsm_keys"
            )

        columns = set(reader.obs_columns)

        def need_column(key: str | None, role: str) -> bool:
            if key is None:
                return False
            if key not in columns:
                close = sorted(columns, key=lambda c: -_similarity(c, key))[:3]
                problems.append(
                    f"{path}: obs column '{key}' ({role}) not found; obs has "
                    f"{len(columns)} columns, e.g. {close}"
                )
                return False
            return True

        ids = reader.obs_names_arrow()
        n = len(ids)
        captions = batches = annotations = None
        if spec.needs_captions and need_column(spec.caption_key, "caption_key"):
            captions = reader.obs_arrow(spec.caption_key)
        if spec.needs_captions and need_column(spec.batch_key, "batch_key"):
            batches = reader.obs_arrow(spec.batch_key)
        if spec.needs_annotation and need_column(spec.annotation_key, "annotation_key"):
            annotations = reader.obs_arrow(spec.annotation_key)
        sentence_columns = {
            OBS_SENTENCE_PREFIX + key: reader.obs_arrow(key).cast(pa.string())
            for key in spec.obs_sentence_columns
            if need_column(key, "sentence key")
        }

        _check_ids(path, ids, problems)
        if captions is not None:
            missing = missing_text(captions)
            found["n_missing_caption"] = int(missing.sum())
            if missing.any():
                found["missing_caption_examples"] = tuple(_where(ids, missing)[:MAX_EXAMPLES])
                captions = pc.if_else(
                    pa.array(missing), pa.scalar(None, pa.string()), _as_string(captions, n)
                )
        if batches is not None:
            missing = missing_text(batches)
            found["n_missing_batch"] = int(missing.sum())
            if missing.any():
                found["missing_batch_examples"] = tuple(_where(ids, missing)[:MAX_EXAMPLES])
        if annotations is not None:
            missing = missing_text(annotations)
            if missing.any():
                problems.append(
                    f"{path}: {int(missing.sum())} cell(s) have no value in obs column "
                    f"'{spec.annotation_key}' (annotation_key), needed by the semantic sentence "
                    f"keys (e.g. {_examples(_where(ids, missing))}); fill them or drop semantic "
                    "keys"
                )
        if spec.needs_expression:
            found.update(_check_expression(reader, spec, problems))
        if (
            spec.similarity_obsm_key
            and annotations is not None
            and not problems
            and spec.similarity_obsm_key in reader.obsm_keys
        ):
            labels, sums, counts = annotation_sums(
                reader.obsm(spec.similarity_obsm_key),
                _as_string(annotations, n).to_numpy(zero_copy_only=False),
            )
            found["annotation_sums"] = AnnotationSums(
                labels=tuple(labels),
                sums=tuple(tuple(row) for row in sums.tolist()),
                counts=tuple(counts.tolist()),
            )
        elif spec.similarity_obsm_key and spec.similarity_obsm_key not in reader.obsm_keys:
            problems.append(
                f"{path}: obsm key '{spec.similarity_obsm_key}' (used for semantic_similar) not "
                f"found (present: {reader.obsm_keys}); set dataset_creation.similarity_obsm_key"
            )

    meta = pa.table(
        {
            "sample_idx": ids,
            "caption": _as_string(captions, n),
            "batch": _as_string(batches, n),
            "annotation": _as_string(annotations, n),
            **sentence_columns,
        }
    )
    return meta, report()


def _similarity(a: str, b: str) -> float:
    import difflib

    return difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio()


def _check_ids(path: Path, ids: pa.Array, problems: list[str]) -> None:
    missing = missing_text(ids)
    if missing.any():
        problems.append(
            f"{path}: {int(missing.sum())} obs name(s) are empty (positions "
            f"{_examples(np.flatnonzero(missing))}); every cell needs a unique id in obs.index"
        )
    if len(pc.unique(ids)) == len(ids):  # unique: twice as fast as count_distinct
        return
    import pandas as pd

    values = ids.to_numpy(zero_copy_only=False)
    duplicated = pd.Index(values).duplicated(keep=False)
    problems.append(
        f"{path}: {int(duplicated.sum())} obs names are not unique within the chunk "
        f"(e.g. {_examples(pd.unique(values[duplicated]))}); make them unique "
        "(anndata: adata.obs_names_make_unique())"
    )


def _check_expression(reader: ChunkReader, spec: InspectionSpec, problems: list[str]) -> dict:
    """Problems of the ranking matrix and the gene names; the facts ``check_inputs`` judges."""
    from ..core.genes import resolve_gene_names  # (pandas) only when gene lists are asked

    path = reader.path
    matrix = spec.expression_matrix
    if not reader.has_matrix(matrix):
        problems.append(
            f"{path}: expression matrix '{matrix}' (dataset_creation.expression_matrix) not "
            f"found; this chunk has {reader.matrices}: set expression_matrix to one of them "
            "(gene-list sentence keys rank genes in it)"
        )
        return {}
    incomplete = reader.missing_chunk_files(matrix)
    if incomplete:
        problems.append(
            f"{path}: the expression matrix '{matrix}' is incomplete: chunk files are missing "
            f"({'; '.join(incomplete)}), which zarr would read as zeros (empty or wrong cell "
            "sentences); copy the chunk again (an interrupted copy leaves files out)"
        )
    var_columns = reader.var_columns(matrix)
    facts: dict = {"var_columns": tuple(var_columns)}
    if spec.gene_name_column not in var_columns:
        facts["gene_name_column_missing"] = True
        values = None
    else:
        values = np.asarray(reader.var_column(spec.gene_name_column, matrix), dtype=object)
    try:
        names, _ = resolve_gene_names(
            gene_name_values=values,
            var_index=reader.var_names(matrix),
            gene_name_column=spec.gene_name_column,
            chunk_label=str(path),
        )
    except InputError as error:
        problems.append(str(error))
        return facts
    highly_variable = (
        np.asarray(reader.var_column("highly_variable", matrix), dtype=bool)
        if "highly_variable" in var_columns
        else np.ones(len(names), dtype=bool)
    )
    every, ranked = _repeated(names), _repeated(names[highly_variable])
    if every:
        facts["duplicate_genes"] = GeneDuplicates(
            count=len(every),
            examples=tuple(every[:MAX_EXAMPLES]),
            count_highly_variable=len(ranked),
            examples_highly_variable=tuple(ranked[:MAX_EXAMPLES]),
        )
    return facts


def _repeated(names: np.ndarray) -> list[str]:
    """The names that occur more than once, in order of first occurrence."""
    values, first, counts = np.unique(names.astype(str), return_index=True, return_counts=True)
    repeated = counts > 1
    return [str(v) for v in values[repeated][np.argsort(first[repeated])]]


def write_inspection(
    meta: pa.Table, report: ChunkReport, *, meta_path: Path, report_path: Path
) -> None:
    write_table(meta, meta_path)
    report.write(report_path)


def check_inputs(
    chunks: dict[str, list[tuple[str, Path, Path]]], rules: InputRules
) -> InputsSummary:
    """Gate before heavy work: every chunk's problems, what ``rules`` make of each chunk's
    facts, and ids shared by two chunks of a split or by two splits.

    Parameters
    ----------
    chunks
        Per split, ``(chunk label, meta table path, report json path)`` in chunk order.
    rules
        How to judge missing captions and batches, a missing gene-name column, repeated gene
        names, and how many cells a split needs.

    Returns
    -------
    What each split holds (cells, missing captions and batches, warnings, embeddings).
    Raises :class:`~adata_hf_datasets.errors.InputError` with every problem found.
    """
    problems: list[str] = []
    splits: dict[str, SplitInputs] = {}
    split_ids: dict[str, pa.Array] = {}
    for split, entries in chunks.items():
        ids, owners = [], []
        reports = [ChunkReport.read(report_path) for _, _, report_path in entries]
        common_keys: set[str] | None = None
        file_formats: list[str] = []
        warnings: list[str] = []
        for (label, meta_path, _), report in zip(entries, reports, strict=True):
            problems.extend(report.problems)
            chunk_problems, chunk_warnings = _judge(report, rules)
            problems.extend(chunk_problems)
            warnings.extend(f"{label}: {w}" for w in chunk_warnings)
            keys = set(report.obsm_keys)
            common_keys = keys if common_keys is None else keys & common_keys
            suffix = Path(report.path).suffix.lstrip(".")
            if suffix not in file_formats:
                file_formats.append(suffix)
            chunk_ids = read_table(meta_path, ["sample_idx"]).column(0)
            # each chunk's ids once: duplicates inside a chunk (reported above) must not hide
            # the ids it shares with other chunks
            ids.append(pc.unique(chunk_ids.combine_chunks()))
            owners.append(label)
        if len(ids) > 1:
            problems.extend(_shared_ids(f"split '{split}'", "chunk", ids, owners))
        split_ids[split] = pc.unique(pa.concat_arrays(ids)) if ids else pa.array([], pa.string())
        cells = sum(r.n_obs for r in reports)
        missing_caption = sum(r.n_missing_caption for r in reports)
        if cells > 0 and cells - missing_caption < rules.min_pool:
            problems.append(
                f"split '{split}' has {cells - missing_caption} cell(s) that can be anchors and "
                f"negatives ({cells} cells, {missing_caption} without a caption); negatives "
                "need at least 2 cells of the same split: add cells to it, move its chunks "
                "into another split, or build it without negatives (dataset_format: single)"
            )
        splits[split] = SplitInputs(
            chunks=len(entries),
            cells=cells,
            missing_caption=missing_caption,
            missing_batch=sum(r.n_missing_batch for r in reports),
            warnings=tuple(warnings),
            obsm_keys=tuple(sorted(common_keys or ())),
            file_formats=tuple(file_formats),
        )
    if len(split_ids) > 1:
        problems.extend(
            _shared_ids(
                "the splits",
                "split",
                list(split_ids.values()),
                list(split_ids),
                fix="a cell in two splits leaks between training and evaluation: keep each "
                "cell in one split",
            )
        )
    if problems:
        raise InputError(
            f"{len(problems)} problem(s) in the input chunks; no dataset was written:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )
    return InputsSummary(splits=splits)


def _judge(report: ChunkReport, rules: InputRules) -> tuple[list[str], list[str]]:
    """``(problems, warnings)`` of one chunk's facts under ``rules``."""
    path, problems, warnings = report.path, [], []
    if report.n_missing_caption:
        examples = _examples(report.missing_caption_examples)
        if rules.on_missing_caption == "error":
            problems.append(
                f"{path}: {report.n_missing_caption} cell(s) have no caption in obs column "
                f"'{rules.caption_key}' (e.g. {examples}); fill them, or set "
                "dataset_creation.on_missing_caption: drop to leave those cells out"
            )
        else:
            warnings.append(
                f"{report.n_missing_caption} cell(s) without caption in '{rules.caption_key}' "
                f"are left out (e.g. {examples})"
            )
    if report.n_missing_batch:
        warnings.append(
            f"{report.n_missing_batch} cell(s) have no value in the batch column "
            f"'{rules.batch_key}' (e.g. {_examples(report.missing_batch_examples)}): together "
            "they count as one batch of their own for the negatives"
        )
    if report.gene_name_column_missing and rules.gene_name_column is not None:
        columns = list(report.var_columns)
        if rules.gene_name_column_explicit:
            problems.append(
                f"{path}: var has no column '{rules.gene_name_column}' "
                f"(dataset_creation.gene_name_column); var has {columns}: set gene_name_column "
                "to one of them, or remove the key to use var.index"
            )
        else:
            warnings.append(
                f"var has no column '{rules.gene_name_column}' (the default gene_name_column): "
                f"gene names come from var.index (var has {columns}; set gene_name_column to "
                "choose a column)"
            )
    duplicates = report.duplicate_genes
    if duplicates is not None and rules.gene_name_column is not None:
        count, examples = (
            (duplicates.count_highly_variable, duplicates.examples_highly_variable)
            if rules.use_highly_variable
            else (duplicates.count, duplicates.examples)
        )
        if count:
            source = (
                "var.index"
                if report.gene_name_column_missing
                else f"var['{rules.gene_name_column}']"
            )
            problems.append(
                f"{path}: {count} gene name(s) occur more than once in {source} among the genes "
                f"that are ranked (e.g. {_examples(examples)}): a cell sentence would name a gene "
                "twice; make the names unique (e.g. append the Ensembl id) or set "
                "dataset_creation.gene_name_column to a column of unique names"
            )
    return problems, warnings


def _shared_ids(
    where: str, part: str, ids: list[pa.Array], owners: list[str], *, fix: str = ""
) -> list[str]:
    """Ids that occur in more than one of ``ids`` (each unique, ``ids[i]`` of ``owners[i]``)."""
    every_id = pa.chunked_array(ids, pa.string())
    if len(pc.unique(every_id)) == len(every_id):
        return []  # the common case, decided in C; pandas only describes duplicates
    import pandas as pd

    frame = pd.DataFrame(
        {
            "id": every_id.to_numpy(),
            "owner": np.repeat(np.array(owners, dtype=object), [len(c) for c in ids]),
        }
    )
    dup = frame[frame["id"].duplicated(keep=False)]
    per_id = dup.groupby("id", sort=True)["owner"].agg(lambda c: sorted(set(c)))
    involved = sorted({c for cs in per_id for c in cs})
    examples = "; ".join(f"{i!r} in {cs}" for i, cs in list(per_id.items())[:MAX_EXAMPLES])
    fix = fix or (
        f"ids must be unique within a split (negatives refer to cells by id): make them "
        f"unique, e.g. prefix each {part}'s obs names"
    )
    return [
        f"{where}: {len(per_id)} obs name(s) occur in more than one {part} "
        f"({', '.join(involved)}), e.g. {examples}; {fix}"
    ]
