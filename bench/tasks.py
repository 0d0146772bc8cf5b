"""What a child process measures, and the protocol between it and the benchmark.

Each task runs in a fresh Python process (``python bench/run_bench.py --child <task JSON>``):
its peak RSS is its own (VmHWM), and its timers start after the imports. The child prints its
result as one JSON line behind ``RESULT_MARK``; ``run_child`` starts it and reads that line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.machine import peak_rss_mb, prefault, wait_idle
from bench.settings import BENCH, SEED, WORKLOADS, BenchSettings

RESULT_MARK = "@@bench-result@@"


# ----------------------------------------------------------------------------- parent side


def run_child(task: dict, settings: BenchSettings, waits: list[dict]) -> dict:
    """Run one task in a fresh process, after flushing dirty pages of earlier steps.

    (Without the sync, the kernel's write-back throttling of one step's output lands in the
    next step's timing.) With ``--wait-idle`` it first waits for idle CPUs (noted in
    ``waits``); with ``--prefault-mb`` the child prefaults memory before its imports.
    """
    os.sync()
    wait_idle(settings.wait_idle, waits)
    task = {**task, "prefault_mb": settings.prefault_mb}
    command = [sys.executable, str(BENCH / "run_bench.py"), "--child", json.dumps(task)]
    proc = subprocess.run(command, capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_MARK)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(
            f"benchmark task {task['task']} failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
        )
    return json.loads(lines[-1][len(RESULT_MARK) :])


# ----------------------------------------------------------------------------- child side


def child_main(task_json: str) -> None:
    """The child's entry: prefault, imports, the task timed, its result behind the mark."""
    import warnings

    warnings.simplefilter("ignore")
    task = json.loads(task_json)
    if task.get("prefault_mb"):
        prefault(task["prefault_mb"])
    # Imports first: a task's timers and CPU time cover its work only.
    import anndata  # noqa: F401
    import pyarrow.ipc  # noqa: F401

    import adata_hf_datasets.steps.negatives
    import adata_hf_datasets.steps.sentences
    import adata_hf_datasets.steps.shard
    import adata_hf_datasets.steps.validate  # noqa: F401

    keys = _patch_x_reads() if task.get("record_x") else None
    cpu = os.times()
    result = CHILD_TASKS[task["task"]](task)
    cpu_end = os.times()
    result["cpu_seconds"] = (cpu_end.user - cpu.user) + (cpu_end.system - cpu.system)
    result["peak_rss_mb"] = peak_rss_mb()
    if keys is not None:
        result["x_chunks_read"] = _matrix_chunks_read(keys)
    print(RESULT_MARK + json.dumps(result), flush=True)


def _patch_x_reads() -> list[str]:
    """Record every zarr key read from disk (to prove which steps touch X)."""
    import zarr.storage

    keys: list[str] = []
    store = zarr.storage.LocalStore
    get, get_partial = store.get, store.get_partial_values

    async def recording_get(self, key, prototype=None, byte_range=None):
        keys.append(key)
        return await get(self, key, prototype, byte_range)

    async def recording_partial(self, prototype, key_ranges):
        key_ranges = list(key_ranges)
        keys.extend(k for k, _ in key_ranges)
        return await get_partial(self, prototype, key_ranges)

    store.get, store.get_partial_values = recording_get, recording_partial
    return keys


def _matrix_chunks_read(keys: list[str]) -> int:
    """Data chunks (not metadata) read under X, raw/X or layers/."""
    data = [k for k in keys if not Path(k).name.startswith(".") and not k.endswith("zarr.json")]
    return sum(k.startswith(("X/", "raw/X/", "layers/")) for k in data)


def workload_settings(workload: str, **creation):
    """The workflow's settings of a workload (the specs of every step come from them)."""
    from adata_hf_datasets.config import validate_config

    config = {
        "dataset": {"name": "bench"},
        "caption_key": "caption",
        "batch_key": "batch",
        "dataset_creation": {
            "data_dir": "data",
            "sentence_keys": list(WORKLOADS[workload]["sentence_keys"]),
            "required_obsm_keys": ["X_pca"],
            **creation,
        },
    }
    return validate_config(config)


# ----------------------------------------------------------------------------- the tasks
# The per-chunk steps of the workflow (validate .. shard) share ``task["out"]``: each reads
# what the one before wrote.


def _task_validate(task: dict) -> dict:
    from adata_hf_datasets.steps.validate import inspect_chunk, write_inspection

    out = Path(task["out"])
    spec = workload_settings(task["workload"]).inspection_spec()
    t = time.perf_counter()
    meta, report = inspect_chunk(Path(task["chunk"]), spec)
    write_inspection(meta, report, meta_path=out / "meta.arrow", report_path=out / "report.json")
    return {"seconds": time.perf_counter() - t, "cells": report.n_obs}


def _task_split_index(task: dict) -> dict:
    from adata_hf_datasets.steps.split_index import (
        build_split_index,
        negative_pool,
        write_index,
        write_negative_pool,
    )

    out = Path(task["out"])
    t = time.perf_counter()
    table, info = build_split_index([("chunk_0", out / "meta.arrow")], needs_captions=True)
    write_index(table, out / "index.arrow")
    write_negative_pool(negative_pool(table), out / "pool.arrow")
    info.write(out / "index.json")
    return {"seconds": time.perf_counter() - t, "cells": info.cells}


def _task_sentences(task: dict) -> dict:
    from adata_hf_datasets.steps.sentences import write_chunk_sentences

    out = Path(task["out"])
    spec = workload_settings(task["workload"], cs_length=task["cs_length"]).sentence_spec()
    t = time.perf_counter()
    stats = write_chunk_sentences(
        Path(task["chunk"]),
        out / "sentences.arrow",
        spec,
        row_block_size=task["row_block_size"],
    )
    return {"seconds": time.perf_counter() - t, "cells": stats.rows}


def _task_negatives(task: dict) -> dict:
    from adata_hf_datasets.steps.negatives import chunk_negatives, write_negatives

    out = Path(task["out"])
    t = time.perf_counter()
    table, _ = chunk_negatives(
        out / "index.arrow",
        out / "pool.arrow",
        split="train",
        chunk="chunk_0",
        k=task["k"],
        seed=SEED,
    )
    write_negatives(table, out / "negatives.arrow")
    return {"seconds": time.perf_counter() - t, "cells": table.num_rows}


def _task_shard(task: dict) -> dict:
    from adata_hf_datasets.core.formats import FormatSpec
    from adata_hf_datasets.steps.shard import build_chunk_shard

    out = Path(task["out"])
    spec = FormatSpec(
        dataset_format="multiplets",
        n_sentences=len(WORKLOADS[task["workload"]]["sentence_keys"]),
        negatives_per_sample=task["k"],
    )
    t = time.perf_counter()
    stats = build_chunk_shard(
        spec=spec,
        chunk="chunk_0",
        sentences_path=out / "sentences.arrow",
        meta_path=out / "meta.arrow",
        index_path=out / "index.arrow",
        link=str(task["chunk"]),
        negatives_path=out / "negatives.arrow",
        shard_path=out / "shard.arrow",
    )
    return {"seconds": time.perf_counter() - t, "cells": stats.samples}


def _task_rank_text(task: dict) -> dict:
    """Read X in row blocks, rank, build text: each part timed on its own, one block held."""
    import numpy as np

    from adata_hf_datasets.core.ranking import CellSentenceBuilder
    from adata_hf_datasets.io.reader import ChunkReader

    seconds = {"read": 0.0, "rank": 0.0, "text": 0.0}
    cells = 0
    with ChunkReader(Path(task["chunk"])) as reader:
        names = np.asarray(reader.var_column("gene_name"), dtype=object)
        builder = CellSentenceBuilder(names, cs_length=task["cs_length"])
        blocks = reader.row_blocks("X", block_size=task["row_block_size"], reuse_buffers=True)
        while True:
            t = time.perf_counter()
            item = next(blocks, None)
            seconds["read"] += time.perf_counter() - t
            if item is None:
                break
            _, _, block = item
            t = time.perf_counter()
            indptr, positions = builder.top_genes(block)
            seconds["rank"] += time.perf_counter() - t
            t = time.perf_counter()
            builder.sentences_from_positions(indptr, positions)
            seconds["text"] += time.perf_counter() - t
            cells += block.shape[0]
    return {"seconds": seconds, "cells": cells}


def _task_sample(task: dict) -> dict:
    """Negative sampling alone: a pool of ``pool`` cells, the anchors of one chunk."""
    import numpy as np

    from adata_hf_datasets.core.negatives import NegativePool, chunk_rng, sample_negatives

    rng = np.random.default_rng(0)
    n = task["pool"]
    batches = rng.integers(0, task["batches"], n)
    captions = rng.permutation(n) if task["unique"] else rng.integers(0, task["captions"], n)
    t = time.perf_counter()
    pool = NegativePool(batches, captions)
    build = time.perf_counter() - t
    anchors = np.arange(task["anchors"], dtype=np.int64)
    t = time.perf_counter()
    sample_negatives(pool, anchors, k=task["k"], rng=chunk_rng(SEED, "train", "chunk_0"))
    return {"seconds": {"pool": build, "sample": time.perf_counter() - t}, "cells": len(anchors)}


def _task_split_reads(task: dict) -> dict:
    """What every sample_negatives / write_shard job reads of the split index and pool."""
    import numpy as np

    from adata_hf_datasets.steps.negatives import chunk_negatives
    from adata_hf_datasets.steps.split_index import chunk_pool_rows, read_index, read_negative_pool

    index, pool = Path(task["index"]), Path(task["pool"])
    seconds = {}
    t = time.perf_counter()
    chunk_pool_rows(read_index(index), "chunk_0")
    read_negative_pool(pool)
    seconds["negatives_read"] = time.perf_counter() - t
    t = time.perf_counter()
    table, _ = chunk_negatives(
        index, split="train", chunk="chunk_0", k=task["k"], seed=SEED, pool_path=pool
    )
    seconds["negatives_job"] = time.perf_counter() - t
    positions = np.concatenate(
        [table.column(f"negative_{j + 1}").to_numpy() for j in range(task["k"])]
    )
    t = time.perf_counter()
    mapped = read_index(index)  # the shard job: ids and captions of its negatives only
    for name in ("sample_idx", "caption"):
        mapped.column(name).take(positions).cast("string")
    seconds["shard_read"] = time.perf_counter() - t
    return {"seconds": seconds, "cells": mapped.num_rows, "anchors": table.num_rows}


def _task_naive(task: dict) -> dict:
    from bench.naive_baseline import naive_chunk

    times = naive_chunk(
        Path(task["chunk"]),
        Path(task["out"]),
        sentence_keys=tuple(WORKLOADS[task["workload"]]["sentence_keys"]),
        cs_length=task["cs_length"],
        k=task["k"],
    )
    return {"seconds": times, "cells": task["cells"]}


def clustered_embedding(n: int, *, dims: int, captions: int, batches: int, seed: int = SEED):
    """Unit vectors around one centre per caption, shifted per batch, with noise: the shape of
    a PCA or scVI embedding whose captions follow cell types. Annotations group captions by 3
    (a cell type with several captions)."""
    import numpy as np

    from adata_hf_datasets.core.negative_quality import unit_rows

    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(captions, dims))
    shifts = rng.normal(scale=0.5, size=(batches, dims))
    caption = rng.integers(0, captions, n)
    batch = rng.integers(0, batches, n)
    vectors = np.empty((n, dims), dtype=np.float32)
    for start in range(0, n, 262144):
        stop = min(start + 262144, n)
        raw = centres[caption[start:stop]] + shifts[batch[start:stop]]
        raw += rng.normal(scale=0.3, size=raw.shape)
        vectors[start:stop] = unit_rows(raw)[0]
    return vectors, caption, batch, caption // 3


def _task_mine(task: dict) -> dict:
    """Mining one chunk's caption negatives against a generated pool (DESIGN.md 4b): the
    split's index, the search, and its recall against brute force on sampled anchors;
    ``faiss``: the same anchors through faiss IndexFlatIP (exact search, then the filters)."""
    import numpy as np

    from adata_hf_datasets.core.hard_negatives import (
        MiningSettings,
        build_mining_index,
        mine_caption_negatives,
        ranked_eligible,
    )
    from adata_hf_datasets.core.negative_quality import positive_references
    from adata_hf_datasets.core.negatives import NegativePool, chunk_rng, sample_negatives

    n, m = task["pool"], task["anchors"]
    vectors, caption, batch, annotation = clustered_embedding(
        n, dims=task["dims"], captions=task["captions"], batches=task["batches"]
    )
    settings = MiningSettings(range_max=task["range_max"])
    seconds = {}
    t = time.perf_counter()
    reference = positive_references(vectors, caption)
    index = build_mining_index(vectors, batch, seed=SEED)
    pool = NegativePool(batch, caption)
    seconds["index"] = time.perf_counter() - t
    anchors = np.arange(m, dtype=np.int64)
    random, _ = sample_negatives(pool, anchors, k=2, rng=chunk_rng(SEED, "train", "chunk_0"))
    cells = dict(captions=caption, batches=batch, annotations=annotation, references=reference)
    t = time.perf_counter()
    mine_caption_negatives(
        index, anchors, random, [0], settings=settings, rng=chunk_rng(SEED, "t", "c/h"), **cells
    )
    seconds["mine"] = time.perf_counter() - t

    # recall of the window against brute force, on sampled anchors
    sample = np.linspace(0, m - 1, min(task["recall_anchors"], m)).astype(np.int64)
    found, _ = ranked_eligible(index, sample, settings=settings, same_batch=True, **cells)
    exact = _brute_force_windows(vectors, sample, settings, **cells)
    same = sum(found[i][found[i] >= 0].tolist() == exact[i].tolist() for i in range(sample.size))
    result = {
        "seconds": seconds,
        "cells": m,
        "lists": index.n_lists,
        "recall": same / sample.size,
    }
    if task.get("faiss"):
        result |= _faiss_windows(vectors, anchors, exact, sample, settings, **cells)
    return result


def _eligible(row_scores, anchor, settings, *, captions, batches, annotations, references):
    import numpy as np

    ok = (captions != captions[anchor]) & (batches == batches[anchor])
    ok &= annotations != annotations[anchor]
    if references[anchor] > 0:
        ok &= ~(row_scores > (1 - settings.relative_margin) * references[anchor])
    return np.flatnonzero(ok)


def _brute_force_windows(vectors, anchors, settings, **cells):
    import numpy as np

    windows = []
    for anchor in anchors:
        scores = vectors.astype(np.float64) @ vectors[anchor].astype(np.float64)
        eligible = _eligible(scores, anchor, settings, **cells)
        order = np.lexsort((eligible, -scores[eligible]))[: settings.range_max]
        windows.append(eligible[order])
    return windows


def _faiss_windows(vectors, anchors, exact, sample, settings, **cells):
    """The path sentence-transformers takes with use_faiss=True: exact inner-product search of
    the k nearest, then the filters; k must be large enough that range_max eligible cells
    remain (here 20 x range_max: the share of eligible cells among the nearest is small)."""
    import faiss
    import numpy as np

    faiss.omp_set_num_threads(os.cpu_count() or 1)
    k = 20 * settings.range_max
    captions, batches = cells["captions"], cells["batches"]
    annotations, references = cells["annotations"], cells["references"]
    t = time.perf_counter()
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    windows = []
    for start in range(0, anchors.size, 4096):
        block = anchors[start : start + 4096]
        scores, neighbours = index.search(vectors[block], k)
        a = block[:, None]
        ok = (captions[neighbours] != captions[a]) & (batches[neighbours] == batches[a])
        ok &= annotations[neighbours] != annotations[a]
        limit = np.where(references[a] > 0, (1 - settings.relative_margin) * references[a], np.inf)
        ok &= scores <= limit
        for row in range(block.size):
            windows.append(neighbours[row][ok[row]][: settings.range_max])
    seconds = time.perf_counter() - t
    full = sum(w.size >= settings.range_max for w in windows) / len(windows)
    same = sum(
        windows[int(anchor)].tolist() == exact[i].tolist() for i, anchor in enumerate(sample)
    )
    return {
        "faiss_seconds": seconds,
        "faiss_full_windows": full,
        "faiss_recall": same / len(sample),
        "faiss_k": k,
    }


CHILD_TASKS = {
    "validate": _task_validate,
    "split_index": _task_split_index,
    "sentences": _task_sentences,
    "negatives": _task_negatives,
    "shard": _task_shard,
    "rank_text": _task_rank_text,
    "sample": _task_sample,
    "split_reads": _task_split_reads,
    "naive": _task_naive,
    "mine": _task_mine,
}
