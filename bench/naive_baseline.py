"""A faithful naive baseline: how the reference implementation builds a dataset from one chunk.

Reproduces the reference implementation's approach as described in the project's field notes
(``/work/shared/FIELD-NOTES.md``, "The reference implementation's known faults"), so the
benchmark can show the new code against it on the same data, in the same run:

- every chunk is read fully twice (once to validate, once to build), X included, with
  ``anndata.read_zarr`` / ``read_h5ad``;
- cell sentences densify the whole chunk and ``argsort`` each cell's row, then join the gene
  names with a Python ``" ".join`` (zeros are padded into short sentences, as it did);
- negatives scan, per anchor, every candidate caption of the split and take the first match
  in insertion order (same batch first); with a unique caption per cell this is O(N^2);
- the dataset is built from a Python generator with ``datasets.Dataset.from_generator`` and
  written with ``save_to_disk``.

It is a measuring stick, not a product: do not use its output.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np


def read_chunk(path: Path):
    """The whole AnnData in memory (X included), as the reference reads every chunk."""
    import anndata as ad

    path = Path(path)
    return ad.read_h5ad(path) if path.suffix == ".h5ad" else ad.read_zarr(path)


def naive_validate(path: Path, *, caption_key: str | None, batch_key: str | None) -> int:
    """First full read: the reference checks keys and columns on the loaded AnnData."""
    adata = read_chunk(path)
    for key in (caption_key, batch_key):
        if key is not None and key not in adata.obs.columns:
            raise KeyError(key)
    return adata.n_obs


def naive_cell_sentences(adata, *, cs_length: int, gene_name_column: str = "gene_name"):
    """Densify the chunk, argsort each cell, join the top names with Python."""
    X = adata.X
    dense = X.toarray() if hasattr(X, "toarray") else np.asarray(X)
    names = adata.var[gene_name_column].to_numpy().astype(str)
    sentences = []
    for i in range(dense.shape[0]):
        top = np.argsort(dense[i])[::-1][:cs_length]
        sentences.append(" ".join(names[top]))
    return sentences


def naive_negatives(captions: list, batches: list, *, k: int) -> list[list[int]]:
    """Per anchor: scan every other caption of the split; first match in insertion order.

    Odd columns (1, 3, ...) are caption negatives (same batch preferred), even columns are
    sentence negatives (the first other sample of the batch), as the reference does.
    """
    by_caption: dict = {}
    by_batch: dict = {}
    for i, (caption, batch) in enumerate(zip(captions, batches, strict=True)):
        by_caption.setdefault(caption, []).append(i)
        by_batch.setdefault(batch, []).append(i)
    out = []
    for anchor, (caption, batch) in enumerate(zip(captions, batches, strict=True)):
        others = [c for c in by_caption if c != caption]  # the scan over all candidates
        chosen: list[int] = []
        for column in range(k):
            negative = None
            if column % 2 == 0:
                negative = next(
                    (
                        m
                        for c in others
                        for m in by_caption[c]
                        if batches[m] == batch and m not in chosen
                    ),
                    None,
                )
                if negative is None:
                    negative = next(
                        (m for c in others for m in by_caption[c] if m not in chosen), None
                    )
            if negative is None:
                negative = next(
                    (m for m in by_batch[batch] if m != anchor and m not in chosen), anchor
                )
            chosen.append(negative)
        out.append(chosen)
    return out


def naive_write(rows_fn, out_dir: Path) -> int:
    """``Dataset.from_generator`` + ``save_to_disk``, as the reference builds its datasets."""
    import datasets

    datasets.disable_progress_bars()
    dataset = datasets.Dataset.from_generator(rows_fn, cache_dir=str(Path(out_dir) / "cache"))
    dataset.save_to_disk(str(Path(out_dir) / "dataset"))
    return dataset.num_rows


def naive_chunk(
    path: Path,
    out_dir: Path,
    *,
    sentence_keys: tuple[str, ...],
    cs_length: int,
    k: int,
    caption_key: str = "caption",
    batch_key: str = "batch",
) -> dict[str, float]:
    """The whole per-chunk path of the reference; returns seconds per step."""
    times: dict[str, float] = {}
    t = time.perf_counter()
    naive_validate(path, caption_key=caption_key, batch_key=batch_key)
    times["validate (full read)"] = time.perf_counter() - t

    t = time.perf_counter()
    adata = read_chunk(path)
    ids = adata.obs_names.astype(str).tolist()
    captions = adata.obs[caption_key].astype(str).tolist()
    batches = adata.obs[batch_key].astype(str).tolist()
    times["read (full read)"] = time.perf_counter() - t

    columns: dict[str, list] = {}
    t = time.perf_counter()
    for key in sentence_keys:
        if key == "sample_id_og":
            columns[key] = ids
        elif key == "cell_sentence":
            columns[key] = naive_cell_sentences(adata, cs_length=cs_length)
    times["sentences"] = time.perf_counter() - t
    del adata

    t = time.perf_counter()
    negatives = naive_negatives(captions, batches, k=k)
    times["negatives"] = time.perf_counter() - t

    def rows():
        for i, sample in enumerate(ids):
            row = {"sample_idx": sample}
            for j, key in enumerate(sentence_keys, start=1):
                row[f"cell_sentence_{j}"] = columns[key][i]
            row["positive"] = captions[i]
            for j, m in enumerate(negatives[i], start=1):
                row[f"negative_{j}_idx"] = ids[m]
            row["adata_link"] = str(path)
            yield row

    t = time.perf_counter()
    naive_write(rows, out_dir)
    times["write (from_generator + save_to_disk)"] = time.perf_counter() - t
    return times
