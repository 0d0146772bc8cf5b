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

from ..core.genes import resolve_gene_names
from ..core.semantic import annotation_sums
from ..core.text import missing_text, plain_text
from ..errors import InputError
from ..io.files import read_table, write_table
from ..io.reader import ChunkReader, ChunkReadError
from ..records import AnnotationSums, ChunkReport, InputsSummary, InspectionSpec, SplitInputs

__all__ = ["check_inputs", "inspect_chunk", "write_inspection"]

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
        (text, null where missing or not configured).
    report
        What was found: problems (each names the file, the key and the fix), warnings, the
        number of cells without a caption and, for ``semantic_similar``, per-annotation
        embedding sums.
    """
    path = Path(path)
    problems: list[str] = []
    warnings: list[str] = []
    found: dict = {}

    def report() -> ChunkReport:
        return ChunkReport(
            path=str(path), problems=tuple(problems), warnings=tuple(warnings), **found
        )

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
        for key in spec.obs_sentence_columns:
            need_column(key, "sentence key")

        _check_ids(path, ids, problems)
        if captions is not None:
            missing = missing_text(captions)
            found["n_missing_caption"] = int(missing.sum())
            if missing.any():
                where = _examples(_where(ids, missing))
                if spec.on_missing_caption == "error":
                    problems.append(
                        f"{path}: {int(missing.sum())} cell(s) have no caption in obs column "
                        f"'{spec.caption_key}' (e.g. {where}); fill them, or set "
                        "dataset_creation.on_missing_caption: drop to leave those cells out"
                    )
                else:
                    warnings.append(
                        f"{int(missing.sum())} cell(s) without caption in '{spec.caption_key}' "
                        f"will be dropped (e.g. {where})"
                    )
                captions = pc.if_else(
                    pa.array(missing), pa.scalar(None, pa.string()), _as_string(captions, n)
                )
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
            _check_expression(reader, spec, problems, warnings)
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


def _check_expression(
    reader: ChunkReader, spec: InspectionSpec, problems: list[str], warnings: list[str]
) -> None:
    path = reader.path
    matrix = spec.expression_matrix
    if not reader.has_matrix(matrix):
        problems.append(
            f"{path}: expression matrix '{matrix}' (dataset_creation.expression_matrix) not found; "
            "gene-list sentence keys (cell_sentence, semantic_*) need it"
        )
        return
    var_columns = reader.var_columns(matrix)
    values = (
        reader.var_column(spec.gene_name_column, matrix)
        if spec.gene_name_column in var_columns
        else None
    )
    try:
        _, warning = resolve_gene_names(
            gene_name_values=None if values is None else np.asarray(values, dtype=object),
            var_index=reader.var_names(matrix),
            gene_name_column=spec.gene_name_column,
            chunk_label=str(path),
        )
    except InputError as error:
        problems.append(str(error))
        return
    if warning:
        warnings.append(warning)


def write_inspection(
    meta: pa.Table, report: ChunkReport, *, meta_path: Path, report_path: Path
) -> None:
    write_table(meta, meta_path)
    report.write(report_path)


def check_inputs(chunks: dict[str, list[tuple[str, Path, Path]]]) -> InputsSummary:
    """Gate before heavy work: every chunk's problems plus duplicate ids across a split's chunks.

    Parameters
    ----------
    chunks
        Per split, ``(chunk label, meta table path, report json path)`` in chunk order.

    Returns
    -------
    What each split holds (cells, missing captions, warnings, embeddings). Raises
    :class:`~adata_hf_datasets.errors.InputError` with every problem found.
    """
    problems: list[str] = []
    splits: dict[str, SplitInputs] = {}
    for split, entries in chunks.items():
        ids, owners = [], []
        reports = [ChunkReport.read(report_path) for _, _, report_path in entries]
        common_keys: set[str] | None = None
        file_formats: list[str] = []
        for (label, meta_path, _), report in zip(entries, reports, strict=True):
            problems.extend(report.problems)
            keys = set(report.obsm_keys)
            common_keys = keys if common_keys is None else keys & common_keys
            suffix = Path(report.path).suffix.lstrip(".")
            if suffix not in file_formats:
                file_formats.append(suffix)
            if not report.problems:
                ids.append(read_table(meta_path, ["sample_idx"]).column(0))
                owners.append(label)
        if len(ids) > 1:
            problems.extend(_duplicates_across(split, ids, owners))
        splits[split] = SplitInputs(
            chunks=len(entries),
            cells=sum(r.n_obs for r in reports),
            missing_caption=sum(r.n_missing_caption for r in reports),
            warnings=tuple(
                f"{label}: {w}"
                for (label, _, _), r in zip(entries, reports, strict=True)
                for w in r.warnings
            ),
            obsm_keys=tuple(sorted(common_keys or ())),
            file_formats=tuple(file_formats),
        )
    if problems:
        raise InputError(
            f"{len(problems)} problem(s) in the input chunks; no dataset was written:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )
    return InputsSummary(splits=splits)


def _duplicates_across(split: str, ids: list[pa.ChunkedArray], owners: list[str]) -> list[str]:
    """Ids of ``split`` that occur in more than one chunk (``ids[i]`` belong to ``owners[i]``)."""
    every_id = pa.chunked_array([chunk for column in ids for chunk in column.chunks], pa.string())
    if len(pc.unique(every_id)) == len(every_id):
        return []  # the common case, decided in C; pandas only describes duplicates
    import pandas as pd

    frame = pd.DataFrame(
        {
            "id": every_id.to_numpy(),
            "chunk": np.repeat(np.array(owners, dtype=object), [len(c) for c in ids]),
        }
    )
    dup = frame[frame["id"].duplicated(keep=False)]
    if dup.empty:
        return []
    per_id = dup.groupby("id", sort=True)["chunk"].agg(lambda c: sorted(set(c)))
    chunks_involved = sorted({c for cs in per_id for c in cs})
    examples = "; ".join(f"{i!r} in {cs}" for i, cs in list(per_id.items())[:MAX_EXAMPLES])
    return [
        f"split '{split}': {len(per_id)} obs name(s) occur in more than one chunk "
        f"({', '.join(chunks_involved)}), e.g. {examples}; ids must be unique within a split "
        "(negatives refer to cells by id): make them unique, e.g. prefix each chunk's obs names"
    ]
