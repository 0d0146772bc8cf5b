"""Dataset formats and shards: the columns of each format, one Arrow shard per chunk, assembly.

A shard is an Arrow IPC stream written with pyarrow straight to its file (the format
``datasets`` itself writes), so ``datasets.load_from_disk`` reads the assembled folder without
any conversion. Assembly links the shards into place; no data is copied.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from .anndata_io import plain_text

SHARD_BATCH_ROWS = 8192


@dataclass(frozen=True)
class FormatSpec:
    dataset_format: str
    n_sentences: int
    negatives_per_sample: int = 0
    resolve_negatives: bool = False

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


def _take(array: pa.Array | pa.ChunkedArray, positions: np.ndarray) -> pa.Array:
    """Rows at ``positions`` as one contiguous array (only those rows are materialised);
    dictionary-encoded text comes out as plain strings. A run of consecutive rows (the
    anchors of a chunk, mostly) is a zero-copy slice."""
    if (
        isinstance(array, pa.Array)
        and positions.shape[0] > 1
        and int(positions[-1]) - int(positions[0]) + 1 == positions.shape[0]
        and bool((np.diff(positions) == 1).all())
        and not pa.types.is_dictionary(array.type)
    ):
        return array.slice(int(positions[0]), positions.shape[0])
    return plain_text(array.take(pa.array(positions, pa.int64())))


@dataclass
class ShardInputs:
    """Everything one chunk's shard is made of.

    ``sentences``: the chunk's sentence columns (all rows, chunk order), as a table or as a
    stream of record batches (read once, in order: memory then follows one batch);
    ``sample_idx`` and ``captions``: the chunk's ids and captions (all rows); ``anchor_rows``:
    chunk rows that become samples; ``negatives``: one row per anchor, positions into
    ``pool_ids`` and ``pool_captions`` (the split's ids and captions, plain or
    dictionary-encoded, possibly memory-mapped: only the rows taken are read);
    ``resolve_sentence``: maps those positions to the sentence text (for resolved sentence
    negatives).
    """

    sentences: pa.Table | pa.RecordBatchReader
    sample_idx: pa.Array
    captions: pa.Array | None
    anchor_rows: np.ndarray
    link: str
    negatives: np.ndarray | None = None
    pool_ids: pa.Array | pa.ChunkedArray | None = None
    pool_captions: pa.Array | pa.ChunkedArray | None = None
    resolve_sentence: Callable[[np.ndarray], pa.Array] | None = None


def _anchor_groups(
    inputs: ShardInputs, n_sentences: int
) -> Iterator[tuple[int, np.ndarray, list[pa.Array]]]:
    """``(first anchor, chunk rows, sentence columns)`` per output batch, in anchor order.

    With ascending anchor rows (the workflow's case) the sentences are walked batch by batch
    and a run of consecutive rows is a zero-copy slice of the sentence batch: the text is
    neither copied nor held beyond its batch. Other orders fall back to ``take`` on the
    whole table.
    """
    rows_all = np.asarray(inputs.anchor_rows, dtype=np.int64)
    n_anchor = rows_all.shape[0]
    if n_anchor > 1 and not bool((rows_all[1:] > rows_all[:-1]).all()):
        table = inputs.sentences
        if not isinstance(table, pa.Table):
            table = table.read_all()
        for start in range(0, n_anchor, SHARD_BATCH_ROWS):
            rows = rows_all[start : start + SHARD_BATCH_ROWS]
            yield start, rows, [_take(table.column(i), rows) for i in range(n_sentences)]
        return
    sentences = inputs.sentences
    batches = iter(sentences.to_batches() if isinstance(sentences, pa.Table) else sentences)
    first_row = 0
    done = 0
    while done < n_anchor:
        batch = next(batches, None)  # the previous batch is released before this read
        if batch is None:
            break
        end_row = first_row + batch.num_rows
        stop = int(np.searchsorted(rows_all, end_row, side="left"))
        while done < stop:
            rows = rows_all[done : min(stop, done + SHARD_BATCH_ROWS)]
            local = rows - first_row
            if int(local[-1] - local[0]) + 1 == local.shape[0]:
                columns = [
                    batch.column(i).slice(int(local[0]), local.shape[0]) for i in range(n_sentences)
                ]
            else:
                columns = [_take(batch.column(i), local) for i in range(n_sentences)]
            yield done, rows, columns
            done += rows.shape[0]
            del columns
        first_row = end_row
        del batch
    if done < n_anchor:
        raise ValueError(
            f"anchor row {int(rows_all[done])} is beyond the {first_row} rows of the sentences; "
            "the sentence file does not belong to this chunk (rerun its cell_sentences job)"
        )


def shard_batches(
    spec: FormatSpec,
    inputs: ShardInputs,
    stats: dict,
    *,
    on_anchors: Callable[[int], None] | None = None,
) -> Iterator[pa.RecordBatch]:
    """Record batches of the shard, in anchor order, at most ``SHARD_BATCH_ROWS`` anchors each;
    ``on_anchors(n)`` is called once the batch of ``n`` anchors has been consumed."""
    schema = spec.schema()
    stats.setdefault("rows", 0)
    stats.setdefault("pairs_negative_rows_skipped", 0)
    link_column = pa.array([], pa.string())  # one column of the link, sliced per batch
    for start, rows, sentence_cols in _anchor_groups(inputs, spec.n_sentences):
        ids = _take(inputs.sample_idx, rows)
        if spec.dataset_format == "single":
            columns = [ids, *sentence_cols]
        elif spec.dataset_format == "multiplets":
            negatives = inputs.negatives[start : start + len(rows)]
            columns = [ids, *sentence_cols, _take(inputs.captions, rows)]
            for j in range(spec.negatives_per_sample):
                columns.append(_take(inputs.pool_ids, negatives[:, j]))
                if spec.resolve_negatives:
                    if j % 2 == 0:  # caption negative: its caption
                        columns.append(_take(inputs.pool_captions, negatives[:, j]))
                    else:  # sentence negative: its cell sentence
                        columns.append(inputs.resolve_sentence(negatives[:, j]))
        else:
            batch_columns, skipped = _pairs_columns(spec, inputs, start, rows, ids, sentence_cols)
            stats["pairs_negative_rows_skipped"] += skipped
            columns = batch_columns
        n_rows = len(columns[0])
        if len(link_column) < n_rows:
            link_column = pa.array([inputs.link] * n_rows, pa.string())
        columns.append(link_column.slice(0, n_rows))
        batch = pa.record_batch(columns, schema=schema)
        del columns, sentence_cols
        stats["rows"] += batch.num_rows
        yield batch
        if on_anchors is not None:
            on_anchors(len(rows))
        del batch


def _pairs_columns(spec, inputs, start, rows, ids, sentence_cols):
    """Per anchor: its own caption (label 1.0), then one row per caption negative (label 0.0).

    A caption negative that had to fall back to a same-caption sample would be a false
    negative pair; such rows are skipped and counted.
    """
    negatives = inputs.negatives[start : start + len(rows)]
    own = _take(inputs.captions, rows)
    caption_cols = list(range(0, spec.negatives_per_sample, 2))
    neg_captions = [_take(inputs.pool_captions, negatives[:, j]) for j in caption_cols]
    own_np = own.to_numpy(zero_copy_only=False)
    valid = [c.to_numpy(zero_copy_only=False) != own_np for c in neg_captions]
    per_anchor = 1 + np.sum(valid, axis=0) if valid else np.ones(len(rows), dtype=np.int64)
    # Rows in order: anchor a's positive, then its valid caption negatives in column order.
    source = np.zeros((len(rows), 1 + len(caption_cols)), dtype=bool)
    source[:, 0] = True
    for i, v in enumerate(valid):
        source[:, i + 1] = v
    anchor_of_row, slot_of_row = np.nonzero(source)  # row-major: grouped by anchor, in slot order
    labels = np.where(slot_of_row == 0, 1.0, 0.0).astype(np.float32)
    # caption per output row: concatenate [own, neg_1, neg_3, ...] and take (slot * n + anchor).
    all_captions = pa.concat_arrays([own, *neg_captions])
    caption = _take(all_captions, slot_of_row * len(rows) + anchor_of_row)
    skipped = len(rows) * len(caption_cols) - int(per_anchor.sum() - len(rows))
    columns = [
        _take(ids, anchor_of_row),
        *[_take(c, anchor_of_row) for c in sentence_cols],
        caption,
        pa.array(labels, pa.float32()),
    ]
    return columns, skipped


_HASH_SLICE = 1 << 20


class _HashingSink:
    """A binary file that hashes what is written to it (no second read of the shard)."""

    def __init__(self, path: Path) -> None:
        self._file = open(path, "wb")  # noqa: SIM115 - closed by close()
        self.sha = hashlib.sha256()
        self.closed = False

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        # Hash and write slice by slice: each slice is still in cache when it is copied out.
        for start in range(0, len(view), _HASH_SLICE):
            piece = view[start : start + _HASH_SLICE]
            self.sha.update(piece)
            self._file.write(piece)
        return len(view)

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        if not self.closed:
            self._file.close()
            self.closed = True


def write_shard(path: Path, spec: FormatSpec, batches: Iterator[pa.RecordBatch]) -> str:
    """Write an Arrow IPC stream shard and return its sha256 (computed while writing)."""
    tmp = Path(f"{path}.partial")
    sink = _HashingSink(tmp)
    try:
        with (
            pa.PythonFile(sink, mode="w") as stream,
            pa.ipc.new_stream(stream, spec.schema()) as writer,
        ):
            for batch in batches:
                writer.write_batch(batch)
    finally:
        sink.close()
    os.replace(tmp, path)  # a killed job never leaves a shard that looks complete
    return sink.sha.hexdigest()


def _link_or_copy(source: Path, target: Path) -> bool:
    """Hard link (no data copied); copy only when the file systems differ. True when linked."""
    try:
        os.link(source, target)
        return True
    except OSError:
        shutil.copyfile(source, target)
        return False


def materialise_dataset(
    out_dir: Path, splits: dict[str, list[tuple[Path, str]]], *, features: dict, description: str
) -> dict[str, int]:
    """Create the ``load_from_disk``-able ``DatasetDict`` folder at ``out_dir`` atomically.

    Parameters
    ----------
    splits
        Per split, ``(shard path, shard sha256)`` in shard order.

    Returns the number of shards that had to be copied (0 when all were hard-linked).
    """
    out_dir = Path(out_dir)
    staging = out_dir.with_name(f".{out_dir.name}.partial")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    copied = 0
    for split, shards in splits.items():
        split_dir = staging / split
        split_dir.mkdir()
        files = []
        for i, (shard, _) in enumerate(shards):
            name = f"data-{i:05d}-of-{len(shards):05d}.arrow"
            copied += not _link_or_copy(Path(shard), split_dir / name)
            files.append({"filename": name})
        fingerprint = hashlib.blake2b(
            "".join(sha for _, sha in shards).encode(), digest_size=8
        ).hexdigest()
        state = {
            "_data_files": files,
            "_fingerprint": fingerprint,
            "_format_columns": None,
            "_format_kwargs": {},
            "_format_type": None,
            "_output_all_columns": False,
            "_split": split,
        }
        info = {
            "citation": "",
            "description": description,
            "features": features,
            "homepage": "",
            "license": "",
        }
        (split_dir / "state.json").write_text(json.dumps(state, indent=2, sort_keys=True))
        # no sort_keys: the order of "features" is the column order
        (split_dir / "dataset_info.json").write_text(json.dumps(info, indent=2))
    (staging / "dataset_dict.json").write_text(json.dumps({"splits": list(splits)}))
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(staging, out_dir)
    return {"copied_shards": copied}
