#!/usr/bin/env python3
"""Benchmark adata-hf-datasets: hot paths in-process, the workflow through Snakemake, a naive
baseline side by side. Prints one table and writes it as JSON (``bench/out/<timestamp>.json``)
so figures can be compared between commits.

Suites (``--suites``, default all):

``hot``       one synthetic chunk of ``--cells`` cells; every per-chunk step of workload A
              (gene lists), B (recommended: ids, captions, negatives) and B-unique (a caption
              per cell), each step in a fresh process: its time and CPU exclude the imports,
              its peak RSS (VmHWM) includes them. Plus X reading, ranking, text and negative
              sampling (k=4, a split-sized pool) on their own.
``baseline``  the same chunks through ``bench/naive_baseline.py`` (the reference
              implementation's approach): per-step times and the speed-ups.
``memory``    workload A through Snakemake on one chunk of each ``--memory-cells`` size: per
              rule time and max RSS from the rules' ``benchmark:`` files, and the same steps
              in-process for exact peaks.
``e2e``       workload B through Snakemake (``--cores``) on ``--chunks`` chunks of ``--cells``
              cells whose X is poisoned (any read of X raises): wall time, per rule time and max
              RSS, the per-job overhead, and what each job reads of the split index.
``scaling``   ``e2e`` again with twice the chunks.

``python bench/run_bench.py`` runs everything at the issue's sizes (about 15 minutes on 2
cores); ``--smoke`` runs everything tiny in under a minute (the test suite uses it).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
for _path in (str(REPO / "workflow" / "lib"), str(BENCH), str(REPO)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

RESULT_MARK = "@@bench-result@@"
SEED = 42

# The workloads of the issue: (sentence keys, captions knob). Data knobs come from the CLI.
WORKLOADS = {
    "A": {"sentence_keys": ["sample_id_og", "cell_sentence"], "unique": False},
    "B": {"sentence_keys": ["sample_id_og"], "unique": False},
    "B-unique": {"sentence_keys": ["sample_id_og"], "unique": True},
}
TARGETS_TEXT = {
    "A_chunk_rate": "A per chunk (read X, rank, text, shard) >= 10,000 cells/s, one core",
    "A_memory": "A: peak RSS of every job < 1 GB at the largest chunk, flat in chunk size",
    # (peak = max of Snakemake's max_rss and the exact in-process VmHWM of each step)
    "neg_rate": "negative sampling >= 1,000,000 anchors/s, k=4 (30 and unique captions)",
    "B_no_x": "B never reads X",
    "e2e_wall": "B end to end (e2e cells) under 120 s wall, no job >= 1 GB",
    "scaling": "2x cells: at most 2x wall time (within 20 %)",
    "speedup_A": "A per chunk vs naive >= 5x",
    "speedup_B": "B per chunk vs naive >= 50x",
    "speedup_B-unique": "B-unique per chunk vs naive >= 500x",
}


# ----------------------------------------------------------------------------- child tasks
# Each task runs in a fresh Python process: its peak RSS is its own (ru_maxrss), and its
# timers start after the imports.


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


def _settings(workload: str, **creation):
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


def _task_validate(task: dict) -> dict:
    from adata_hf_datasets.steps.validate import inspect_chunk, write_inspection

    out = Path(task["out"])
    spec = _settings(task["workload"]).inspection_spec()
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
    table, info = build_split_index(
        [("chunk_0", out / "meta.arrow", out / "report.json")],
        needs_captions=True,
        needs_similarity=False,
    )
    write_index(table, out / "index.arrow")
    write_negative_pool(negative_pool(table), out / "pool.arrow")
    info.write(out / "index.json")
    return {"seconds": time.perf_counter() - t, "cells": info.cells}


def _task_sentences(task: dict) -> dict:
    from adata_hf_datasets.steps.sentences import write_chunk_sentences

    out = Path(task["out"])
    spec = _settings(task["workload"], cs_length=task["cs_length"]).sentence_spec()
    t = time.perf_counter()
    rows = write_chunk_sentences(
        Path(task["chunk"]),
        out / "sentences.arrow",
        spec,
        row_block_size=task["row_block_size"],
    )
    return {"seconds": time.perf_counter() - t, "cells": rows}


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
    from naive_baseline import naive_chunk

    times = naive_chunk(
        Path(task["chunk"]),
        Path(task["out"]),
        sentence_keys=tuple(WORKLOADS[task["workload"]]["sentence_keys"]),
        cs_length=task["cs_length"],
        k=task["k"],
    )
    return {"seconds": times, "cells": task["cells"]}


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
}


def _peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM; ru_maxrss would include the parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _prefault(megabytes: int) -> None:
    """Touch and free ``megabytes`` of memory, then reset the peak-RSS mark (--prefault-mb).

    On a VM whose host reclaims free guest memory, a fresh process pays a host fault for
    every page it touches (see ``memory_probe``); memory freed a moment ago is warm again.
    This measures the code as it runs on a machine without that cost.
    """
    import numpy as np

    block = np.ones(megabytes << 20, dtype=np.uint8)
    del block
    with contextlib.suppress(OSError):  # not Linux: the peak then includes the prefault
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := current RSS


def child_main(task_json: str) -> None:
    import warnings

    warnings.simplefilter("ignore")
    task = json.loads(task_json)
    if task.get("prefault_mb"):
        _prefault(task["prefault_mb"])
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
    result["peak_rss_mb"] = _peak_rss_mb()
    if keys is not None:
        result["x_chunks_read"] = _matrix_chunks_read(keys)
    print(RESULT_MARK + json.dumps(result), flush=True)


WAIT_IDLE = {"max_seconds": 0.0, "waited": []}
PREFAULT = {"mb": 0}


def wait_idle() -> None:
    """With ``--wait-idle``: before a timed run, wait (up to the limit) until the machine's
    CPUs are idle, so that another user's work does not land in the figures."""
    limit = WAIT_IDLE["max_seconds"]
    if limit <= 0:
        return
    import psutil

    start = time.perf_counter()
    busy = psutil.cpu_percent(interval=1.0)
    while busy > 15 and time.perf_counter() - start < limit:
        busy = psutil.cpu_percent(interval=2.0)
    waited = time.perf_counter() - start
    if waited > 1.5:
        WAIT_IDLE["waited"].append({"seconds": round(waited, 1), "cpu_percent_after": busy})


def run_child(task: dict) -> dict:
    """Run one task in a fresh process, after flushing dirty pages of earlier steps.

    (Without the sync, the kernel's write-back throttling of one step's output lands in the
    next step's timing.)
    """
    os.sync()
    wait_idle()
    task = {**task, "prefault_mb": PREFAULT["mb"]}
    command = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(task)]
    proc = subprocess.run(command, capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_MARK)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(
            f"benchmark task {task['task']} failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
        )
    return json.loads(lines[-1][len(RESULT_MARK) :])


# ----------------------------------------------------------------------------- data


def recipe_for(cells, genes, nnz, captions, batches, prefix, seed):
    from tests.support.synthetic import ChunkRecipe

    return ChunkRecipe(
        n_cells=cells,
        n_genes=genes,
        nnz_per_cell=nnz,
        n_captions=None if captions == "unique" else int(captions),
        n_batches=batches,
        n_cell_types=8,
        obsm={"X_pca": 32},
        id_prefix=prefix,
        seed=seed,
    )


def write_data(root: Path, recipes: list) -> list[Path]:
    """``root/train/chunk_{i}.zarr``, one per recipe (skipped when already written)."""
    from tests.support.synthetic import write_chunk

    paths = []
    for i, recipe in enumerate(recipes):
        path = root / "train" / f"chunk_{i}.zarr"
        stamp = path / ".bench-recipe"
        if not (stamp.exists() and stamp.read_text() == repr(recipe)):
            shutil.rmtree(path, ignore_errors=True)
            write_chunk(path, recipe)
            stamp.write_text(repr(recipe))
        paths.append(path)
    return paths


def poison_matrix(chunk: Path) -> int:
    """Overwrite X's data chunk files with garbage: any read of X then raises.

    (Deleting them would not do: zarr reads a missing chunk as zeros.)
    """
    poisoned = 0
    for name in ("data", "indices"):
        for path in (chunk / "X" / name).iterdir():
            if not path.name.startswith("."):
                path.write_bytes(b"poison: the benchmark proves X is never read")
                poisoned += 1
    return poisoned


def assert_poisoned(chunk: Path) -> None:
    from adata_hf_datasets.io.reader import ChunkReader

    with ChunkReader(chunk) as reader:
        try:
            next(reader.row_blocks("X", block_size=10))
        except Exception:
            return
    raise AssertionError(f"{chunk}: X is still readable after poisoning")


# ----------------------------------------------------------------------------- results


class Results:
    """Rows of the table (each with every run's values) and the targets."""

    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.targets: list[dict] = []
        self.notes: list[str] = []
        self.sizes_differ = False  # --smoke: targets are reported, not judged

    def add(
        self, suite, stage, cells, seconds_runs, rss_runs, *, cpu_runs=None, unit="cells", **extra
    ):
        seconds = statistics.median(seconds_runs) if seconds_runs else None
        row = {
            "suite": suite,
            "stage": stage,
            "cells": cells,
            "unit": unit,
            "seconds": seconds,
            "rate": (cells / seconds) if seconds else None,
            "peak_rss_mb": max(rss_runs) if rss_runs else None,
            "cpu_seconds": statistics.median(cpu_runs) if cpu_runs else None,
            "runs_seconds": [round(s, 4) for s in seconds_runs],
            **extra,
        }
        self.rows.append(row)
        return row

    def target(self, key, value, met, detail):
        if self.sizes_differ and key != "B_no_x":
            met, detail = None, f"{detail} (smoke sizes: not comparable with the target)"
        self.targets.append(
            {"target": key, "text": TARGETS_TEXT[key], "value": value, "met": met, "detail": detail}
        )

    def print_table(self) -> None:
        header = (
            f"{'stage':<62} {'cells':>10} {'cells/s':>12} {'peak RSS':>10} "
            f"{'s (median)':>11} {'cpu s':>7}"
        )
        print(header)
        print("-" * len(header))
        suite = None
        for row in self.rows:
            if row["suite"] != suite:
                suite = row["suite"]
                print(f"[{suite}]")
            rate = f"{row['rate']:,.0f}" if row["rate"] else "-"
            if row["unit"] != "cells" and row["rate"]:
                rate += f" {row['unit']}"
            rss = f"{row['peak_rss_mb']:,.0f} MB" if row["peak_rss_mb"] else "-"
            secs = f"{row['seconds']:.3f}" if row["seconds"] is not None else "-"
            cpu = f"{row['cpu_seconds']:.2f}" if row["cpu_seconds"] is not None else "-"
            print(
                f"{row['stage']:<62} {row['cells']:>10,} {rate:>12} {rss:>10} {secs:>11} {cpu:>7}"
            )
        if self.targets:
            print("\ntargets")
            for t in self.targets:
                mark = {True: "MET", False: "NOT MET", None: "n/a"}[t["met"]]
                print(f"  [{mark:>7}] {t['text']}: {t['detail']}")
        for note in self.notes:
            print(f"note: {note}")


def _median(values):
    return statistics.median(values) if values else None


# ----------------------------------------------------------------------------- suites


STEPS = ("validate", "split_index", "sentences", "negatives", "shard")


def run_steps(args, workload: str, chunk: Path, out_root: Path, runs: int) -> dict:
    """The per-chunk steps of a workload, each in a fresh process, ``runs`` times.

    Returns per step the lists of seconds, CPU seconds and peak RSS (one entry per run), and
    the number of X data chunks the steps read.
    """
    steps = {step: {"seconds": [], "cpu": [], "rss": []} for step in STEPS}
    x_reads = 0
    for run in range(runs):
        out = out_root / f"run{run}"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        for step in STEPS:
            result = run_child(
                {
                    "task": step,
                    "workload": workload,
                    "chunk": str(chunk),
                    "out": str(out),
                    "k": args.k,
                    "cs_length": args.cs_length,
                    "row_block_size": args.row_block_size,
                    "record_x": True,
                }
            )
            steps[step]["seconds"].append(result["seconds"])
            steps[step]["cpu"].append(result["cpu_seconds"])
            steps[step]["rss"].append(result["peak_rss_mb"])
            x_reads += result.get("x_chunks_read", 0)
        shutil.rmtree(out, ignore_errors=True)
    return {"steps": steps, "x_reads": x_reads}


def _sum_runs(steps: dict, names, key: str) -> list[float]:
    runs = len(steps[names[0]][key])
    return [sum(steps[n][key][r] for n in names) for r in range(runs)]


def _max_runs(steps: dict, names, key: str = "rss") -> list[float]:
    runs = len(steps[names[0]][key])
    return [max(steps[n][key][r] for n in names) for r in range(runs)]


def add_steps(results, suite, prefix, cells, steps, args, *, gene_lists) -> dict:
    """Rows for each step, the per-chunk total and (gene lists) the sentences + shard path."""
    labels = {
        "validate": "validate (obs, meta table)",
        "split_index": "split index (1 chunk)",
        "sentences": "sentences job (read X, rank, write ranked genes)"
        if gene_lists
        else "sentences job (ids)",
        "negatives": f"negatives job (k={args.k})",
        "shard": "shard job (spell text, join, write + sha256)" if gene_lists else "shard job",
    }
    for step, label in labels.items():
        entry = steps[step]
        results.add(
            suite,
            f"{prefix}: {label}",
            cells,
            entry["seconds"],
            entry["rss"],
            cpu_runs=entry["cpu"],
        )
    out = {}
    out["total"] = results.add(
        suite,
        f"{prefix}: per chunk, all steps",
        cells,
        _sum_runs(steps, STEPS, "seconds"),
        _max_runs(steps, STEPS),
        cpu_runs=_sum_runs(steps, STEPS, "cpu"),
    )
    if gene_lists:
        core = ("sentences", "shard")
        out["core"] = results.add(
            suite,
            f"{prefix}: per chunk, sentences + shard (target path)",
            cells,
            _sum_runs(steps, core, "seconds"),
            _max_runs(steps, core),
            cpu_runs=_sum_runs(steps, core, "cpu"),
        )
    return out


def suite_hot(args, results: Results, data: dict) -> None:
    """Every per-chunk step in-process, each in a fresh process; A, B, B-unique."""
    cells = args.cells
    for workload in args.workloads:
        chunk = data["unique" if WORKLOADS[workload]["unique"] else "plain"][0]
        measured = run_steps(args, workload, chunk, args.workdir / "hot" / workload, args.runs)
        gene_lists = "cell_sentence" in WORKLOADS[workload]["sentence_keys"]
        rows = add_steps(
            results, "hot", workload, cells, measured["steps"], args, gene_lists=gene_lists
        )
        if gene_lists:
            data["A_chunk_rate"] = rows["core"]["rate"]
        else:
            data.setdefault("x_reads", {})[workload] = measured["x_reads"]
        data.setdefault("ours_total", {})[workload] = rows["total"]["seconds"]
        steps = measured["steps"]
        data.setdefault("ours_steps", {})[workload] = {
            step: _median(steps[step]["seconds"]) for step in STEPS
        }

    if "A" in args.workloads:
        # Reading, ranking and text on their own (same chunk, one block at a time).
        parts: dict[str, list] = {"read": [], "rank": [], "text": []}
        rss_parts = []
        for _ in range(args.runs):
            result = run_child(
                {
                    "task": "rank_text",
                    "chunk": str(data["plain"][0]),
                    "cs_length": args.cs_length,
                    "row_block_size": args.row_block_size,
                }
            )
            for key in parts:
                parts[key].append(result["seconds"][key])
            rss_parts.append(result["peak_rss_mb"])
        results.add("hot", "A: read X (row blocks, zarr chunks decoded)", cells, parts["read"], [])
        results.add("hot", f"A: rank (cs_length {args.cs_length})", cells, parts["rank"], [])
        results.add("hot", "A: text (spell the ranked genes)", cells, parts["text"], rss_parts)

    # Negative sampling alone, k=4: the anchors of one chunk in a split-sized pool, and every
    # cell of the pool as an anchor (pool construction included).
    rates = []
    pool = args.sample_pool
    for unique in (False, True):
        label = "unique captions" if unique else f"{args.captions} captions"
        for anchors in (min(cells, pool), pool):
            timings = {"pool": [], "sample": []}
            rss_s = []
            for _ in range(args.runs):
                result = run_child(
                    {
                        "task": "sample",
                        "pool": pool,
                        "anchors": anchors,
                        "captions": args.captions if args.captions != "unique" else 30,
                        "batches": args.batches,
                        "unique": unique,
                        "k": 4,
                    }
                )
                for key in timings:
                    timings[key].append(result["seconds"][key])
                rss_s.append(result["peak_rss_mb"])
            if anchors < pool:
                row = results.add(
                    "hot",
                    f"negatives k=4, {label}: sample {anchors:,} anchors, pool {pool:,}",
                    anchors,
                    timings["sample"],
                    rss_s,
                    unit="anchors",
                )
                results.add(
                    "hot",
                    f"negatives k=4, {label}: build the pool of {pool:,}",
                    pool,
                    timings["pool"],
                    [],
                )
            else:
                row = results.add(
                    "hot",
                    f"negatives k=4, {label}: all {pool:,} anchors, pool build included",
                    anchors,
                    [a + b for a, b in zip(timings["pool"], timings["sample"], strict=True)],
                    rss_s,
                    unit="anchors",
                )
            rates.append(row["rate"])
    data["neg_rates"] = rates


def suite_baseline(args, results: Results, data: dict) -> None:
    """The naive baseline on the same chunks; speed-ups against the hot suite's totals."""
    for workload in args.workloads:
        chunk = data["unique" if WORKLOADS[workload]["unique"] else "plain"][0]
        totals, rss, steps = [], [], {}
        for run in range(args.baseline_runs):
            out = args.workdir / "naive" / workload / f"run{run}"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            result = run_child(
                {
                    "task": "naive",
                    "workload": workload,
                    "chunk": str(chunk),
                    "out": str(out),
                    "k": args.k,
                    "cs_length": args.cs_length,
                    "cells": args.cells,
                }
            )
            shutil.rmtree(out, ignore_errors=True)
            totals.append(sum(result["seconds"].values()))
            rss.append(result["peak_rss_mb"])
            for step, secs in result["seconds"].items():
                steps.setdefault(step, []).append(secs)
        gene_lists = "cell_sentence" in WORKLOADS[workload]["sentence_keys"]
        for step, secs in steps.items():
            if step == "sentences" and not gene_lists:
                continue  # ids only: nothing to measure
            results.add("baseline", f"{workload} naive: {step}", args.cells, secs, [])
        results.add("baseline", f"{workload} naive: per chunk, all steps", args.cells, totals, rss)
        ours_steps = data.get("ours_steps", {}).get(workload)
        if ours_steps:
            naive_neg = _median(steps["negatives"])
            results.notes.append(
                f"{workload}: negatives alone, naive {naive_neg:.2f} s vs ours (the whole "
                f"negatives step: read index, sample, write) {ours_steps['negatives']:.3f} s: "
                f"{naive_neg / ours_steps['negatives']:,.0f}x"
            )
            if "cell_sentence" in WORKLOADS[workload]["sentence_keys"]:
                naive_sent = _median(steps["sentences"])
                ours_sent = ours_steps["sentences"] + ours_steps["shard"]
                results.notes.append(
                    f"{workload}: sentences, naive {naive_sent:.2f} s (densify, argsort, join) "
                    f"vs ours {ours_sent:.2f} s (read X, rank, spell, write the shard): "
                    f"{naive_sent / ours_sent:,.0f}x"
                )
        ours = data.get("ours_total", {}).get(workload)
        if ours:
            speedup = _median(totals) / ours
            data.setdefault("speedups", {})[workload] = speedup
            results.notes.append(
                f"{workload}: naive {_median(totals):.2f} s vs ours {ours:.3f} s per chunk "
                f"of {args.cells:,} cells: {speedup:,.0f}x"
            )


def workflow_config(data_dir: Path, work: Path, workload: str, args) -> dict:
    return {
        "dataset": {"name": "bench"},
        "batch_key": "batch",
        "annotation_key": "cell_type",
        "caption_key": "caption",
        "dataset_creation": {
            "data_dir": str(data_dir),
            "output_dir": str(work / "out"),
            "dataset_format": "multiplets",
            "sentence_keys": WORKLOADS[workload]["sentence_keys"],
            "cs_length": args.cs_length,
            "row_block_size": args.row_block_size,
            "negatives_per_sample": args.k,
            "required_obsm_keys": ["X_pca"],
        },
    }


def run_workflow(work: Path, config: dict, cores: int, extra_args: tuple[str, ...] = ()) -> dict:
    """``python -m snakemake --cores N --configfile ...`` in ``work``.

    Returns the wall time, the number of jobs, the CPU time of the Snakemake process itself
    (scheduling, not the jobs) and, per rule with a ``benchmark:`` file, each job's seconds
    and max RSS as Snakemake measured them.
    """
    import psutil
    import yaml

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    configfile = work / "bench-config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(work),
        "--cores",
        str(cores),
        "--configfile",
        str(configfile),
        *extra_args,
    ]
    self_cpu = 0.0
    os.sync()  # start without the write-back of earlier runs pending
    wait_idle()
    t = time.perf_counter()
    with open(work / "snakemake.out", "w") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=work)
        watched = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                times = watched.cpu_times()
                self_cpu = times.user + times.system
            except psutil.Error:
                pass
            time.sleep(0.2)
    wall = time.perf_counter() - t
    output = (work / "snakemake.out").read_text()
    if proc.returncode != 0:
        raise RuntimeError(f"snakemake failed in {work}:\n{output[-4000:]}")
    done = re.findall(r"(\d+) of (\d+) steps \(100%\) done", output)
    rules: dict[str, dict] = {}
    for tsv in sorted((work / "benchmarks").rglob("*.tsv")):
        rule = tsv.relative_to(work / "benchmarks").parts[0]
        lines = tsv.read_text().splitlines()
        fields = dict(zip(lines[0].split("\t"), lines[-1].split("\t"), strict=True))
        entry = rules.setdefault(rule, {"jobs": 0, "seconds": [], "max_rss_mb": []})
        entry["jobs"] += 1
        entry["seconds"].append(float(fields["s"]))
        rss = fields.get("max_rss", "NA")
        entry["max_rss_mb"].append(float(rss) if rss not in ("NA", "-") else 0.0)
    return {
        "wall": wall,
        "jobs": int(done[-1][1]) if done else None,
        "snakemake_cpu": self_cpu,
        "rules": rules,
    }


def _add_workflow_rows(results, suite, label, cells, runs: list[dict]) -> dict:
    """Rows per rule (job seconds summed over the rule's jobs; median over runs)."""
    walls = [r["wall"] for r in runs]
    peak = max(max(max(e["max_rss_mb"]) for e in r["rules"].values()) for r in runs)
    results.add(
        suite,
        f"{label}: whole run, wall ({runs[0]['jobs']} jobs; cpu = Snakemake itself)",
        cells,
        walls,
        [peak],
        cpu_runs=[r["snakemake_cpu"] for r in runs],
    )
    for rule in runs[0]["rules"]:
        jobs = runs[0]["rules"][rule]["jobs"]
        results.add(
            suite,
            f"{label}: {rule} ({jobs} job{'s' if jobs > 1 else ''}, job s summed)",
            cells,
            [sum(r["rules"][rule]["seconds"]) for r in runs],
            [max(r["rules"][rule]["max_rss_mb"]) for r in runs],
            mean_job_seconds=_median([_median(r["rules"][rule]["seconds"]) for r in runs]),
        )
    return {"wall": _median(walls), "peak_rss_mb": peak}


def suite_memory(args, results: Results, data: dict) -> None:
    """Workload A through Snakemake, one chunk per size: peak RSS must not grow."""
    peaks = {}
    for cells in args.memory_cells:
        data_dir = args.workdir / f"data-A-{cells}"
        write_data(
            data_dir,
            [recipe_for(cells, args.genes, args.nnz, args.captions, args.batches, "m0", 7)],
        )
        runs = []
        for run in range(args.workflow_runs):
            work = args.workdir / f"wf-A-{cells}-{run}"
            runs.append(
                run_workflow(
                    work, workflow_config(data_dir, work, "A", args), args.cores, args.smk_args
                )
            )
            shutil.rmtree(work, ignore_errors=True)
        summary = _add_workflow_rows(results, "memory", f"A {cells:,} cells", cells, runs)
        peaks[cells] = summary["peak_rss_mb"]
        per_chunk = [
            sum(r["rules"][rule]["seconds"][0] for rule in ("cell_sentences", "write_shard"))
            for r in runs
        ]
        row = results.add(
            "memory",
            f"A {cells:,} cells: cell_sentences + write_shard jobs (incl. start-up)",
            cells,
            per_chunk,
            [
                max(max(r["rules"][x]["max_rss_mb"]) for x in ("cell_sentences", "write_shard"))
                for r in runs
            ],
        )
        data.setdefault("A_workflow_rate", {})[cells] = row["rate"]
        # The same steps in-process: exact peaks (VmHWM), where Snakemake samples every 0.5 s.
        measured = run_steps(args, "A", data_dir / "train" / "chunk_0.zarr", data_dir / "steps", 1)
        exact = measured["steps"]
        for step in STEPS:
            results.add(
                "memory",
                f"A {cells:,} cells in-process: {step}",
                cells,
                exact[step]["seconds"],
                exact[step]["rss"],
                cpu_runs=exact[step]["cpu"],
            )
        exact_peak = max(max(exact[step]["rss"]) for step in STEPS)
        peaks[cells] = max(peaks[cells], exact_peak)
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
    data["memory_peaks"] = peaks


def _prepare_b(args, results, cells_total: int, chunks: int, label: str) -> Path:
    """Workload B's chunks, X poisoned (any read of X raises)."""
    per_chunk = cells_total // chunks
    data_dir = args.workdir / f"data-B-{cells_total}-{chunks}"
    t = time.perf_counter()
    recipes = [
        recipe_for(
            per_chunk, args.e2e_genes, args.e2e_nnz, args.captions, args.batches, f"c{i}", 100 + i
        )
        for i in range(chunks)
    ]
    paths = write_data(data_dir, recipes)
    for path in paths:
        if not (path / ".bench-poisoned").exists():
            poison_matrix(path)
            (path / ".bench-poisoned").write_text("X data chunks overwritten")
    assert_poisoned(paths[0])
    results.notes.append(
        f"{label}: generated {chunks} chunks in {time.perf_counter() - t:.1f} s; "
        f"X data chunk files poisoned (a read of X raises)"
    )
    return data_dir


def _run_b(args, data, data_dir: Path, cells_total: int, run: int) -> dict:
    work = args.workdir / f"wf-B-{cells_total}-{run}"
    load = os.getloadavg()[0]
    result = run_workflow(
        work, workflow_config(data_dir, work, "B", args), args.cores, args.smk_args
    )
    result["load_before"] = load
    if run == args.workflow_runs - 1:  # kept for the split-index measurements
        data.setdefault("indexes", {})[cells_total] = (
            work,
            work / "results" / "index" / "bench" / "train.arrow",
        )
    else:
        shutil.rmtree(work, ignore_errors=True)
    return result


def _summarise_b(results, label, cells_total, runs, data_dir) -> dict:
    summary = _add_workflow_rows(results, "e2e", label, cells_total, runs)
    summary["jobs"] = runs[0]["jobs"]
    summary["data_dir"] = data_dir
    summary["mean_job_s"] = {
        rule: _median([statistics.mean(r["rules"][rule]["seconds"]) for r in runs])
        for rule in runs[0]["rules"]
    }
    results.notes.append(
        f"{label}: wall per run {[round(r['wall'], 1) for r in runs]} s; 1-min load average "
        f"before each run (includes the previous run's tail) {[round(r['load_before'], 2) for r in runs]}"
    )
    return summary


def _startup(args, results: Results) -> float:
    """Wall time of a Python process that imports what a script job imports."""
    lib = str(REPO / "workflow" / "lib")
    # Snakemake's script preamble, then what the jobs of workload B import (zarr: validation
    # and ids; pandas: pyarrow loads it on first use).
    code = (
        f"import sys; sys.path.insert(0, {lib!r}); "
        "from snakemake.logging import logger; from snakemake.iocontainers import Snakemake; "
        "import adata_hf_datasets.steps.runtime, adata_hf_datasets.steps.validate, "
        "adata_hf_datasets.steps.sentences, adata_hf_datasets.steps.negatives, "
        "adata_hf_datasets.steps.shard, zarr, pandas"
    )
    walls = []
    for _ in range(max(3, args.runs)):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        walls.append(time.perf_counter() - t)
    results.add("e2e", "job start-up: python + snakemake.script + package imports", 1, walls, [])
    return _median(walls)


def suite_e2e(args, results: Results, data: dict, *, scaling: bool) -> None:
    """Workload B through Snakemake; with ``scaling`` the runs of the two sizes alternate,
    so that a change in the machine's load touches both sizes alike."""
    startup = _startup(args, results)
    sizes = [(args.e2e_cells, args.chunks)]
    if scaling:
        sizes.append((2 * args.e2e_cells, 2 * args.chunks))
    dirs = {
        cells: _prepare_b(args, results, cells, chunks, f"B {cells:,}") for cells, chunks in sizes
    }
    runs: dict[int, list] = {cells: [] for cells, _ in sizes}
    for run in range(args.workflow_runs):
        for cells, _ in sizes:
            runs[cells].append(_run_b(args, data, dirs[cells], cells, run))
    for i, (cells, _) in enumerate(sizes):
        summary = _summarise_b(results, f"B {cells:,}", cells, runs[cells], dirs[cells])
        data["e2e" if i == 0 else "e2e2"] = summary
        if i == 0:
            jobs = summary["jobs"]
            # A B cell_sentences job does ~35 ms of work (the ids): its time is the overhead.
            overhead = summary["mean_job_s"].get("cell_sentences", startup)
            data["job_overhead_s"] = overhead
            results.notes.append(
                f"B {cells:,}: {jobs} jobs; a job costs ~{overhead:.2f} s before any work "
                f"(mean of the B cell_sentences jobs; python + imports alone: {startup:.2f} s): "
                f"{overhead * jobs / args.cores:.0f} s of the {summary['wall']:.0f} s wall on "
                f"{args.cores} cores"
            )
        _split_reads(args, results, data, cells)
        if not args.keep:
            shutil.rmtree(dirs[cells], ignore_errors=True)


def _split_reads(args, results, data, cells) -> None:
    work, index = data["indexes"].pop(cells)
    secs = {"negatives_read": [], "shard_read": [], "negatives_job": []}
    rss = []
    for _ in range(args.runs):
        result = run_child(
            {
                "task": "split_reads",
                "index": str(index),
                "pool": str(work / "results" / "negative_pool" / "bench" / "train.arrow"),
                "k": args.k,
            }
        )
        for key in secs:
            secs[key].append(result["seconds"][key])
        rss.append(result["peak_rss_mb"])
    per_chunk = args.cells
    results.add(
        "e2e",
        f"split index {cells:,}: read by a negatives job (its slice, the mapped pool)",
        cells,
        secs["negatives_read"],
        rss,
    )
    results.add(
        "e2e",
        f"split index {cells:,}: read by a shard job (its negatives' ids, captions)",
        cells,
        secs["shard_read"],
        rss,
    )
    results.add(
        "e2e",
        f"split index {cells:,}: one negatives job's work ({per_chunk:,} anchors)",
        per_chunk,
        secs["negatives_job"],
        rss,
    )
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


# ----------------------------------------------------------------------------- targets


def evaluate_targets(args, results: Results, data: dict) -> None:
    if "A_chunk_rate" in data:
        rate = data["A_chunk_rate"]
        results.target("A_chunk_rate", rate, rate >= 10_000, f"{rate:,.0f} cells/s")
    if "memory_peaks" in data:
        peaks = data["memory_peaks"]
        largest = max(peaks)
        flat = max(peaks.values()) <= 1.25 * min(peaks.values())
        detail = ", ".join(f"{c:,} cells: {p:,.0f} MB" for c, p in sorted(peaks.items()))
        results.target("A_memory", peaks[largest], peaks[largest] < 1024 and flat, detail)
    if "neg_rates" in data:
        low = min(data["neg_rates"])
        detail = (
            " / ".join(f"{r:,.0f}" for r in data["neg_rates"])
            + " anchors/s (30 captions: one chunk, all; unique: one chunk, all)"
        )
        results.target("neg_rate", low, low >= 1_000_000, detail)
    if "x_reads" in data or "e2e" in data:
        reads = sum(data.get("x_reads", {}).values())
        detail = f"X data chunks read in-process: {reads}"
        if "e2e" in data:
            detail += "; workflow ran on chunks with poisoned X"
        results.target("B_no_x", reads, reads == 0, detail)
    if "e2e" in data:
        e2e = data["e2e"]
        ok = e2e["wall"] < 120 and e2e["peak_rss_mb"] < 1024
        results.target(
            "e2e_wall",
            e2e["wall"],
            ok if args.e2e_cells >= 1_000_000 else None,
            f"{args.e2e_cells:,} cells in {args.chunks} chunks: {e2e['wall']:.1f} s wall, "
            f"max job RSS {e2e['peak_rss_mb']:,.0f} MB",
        )
    if "e2e2" in data:
        ratio = data["e2e2"]["wall"] / data["e2e"]["wall"]
        results.target(
            "scaling",
            ratio,
            ratio <= 2.4,
            f"{data['e2e']['wall']:.1f} s -> {data['e2e2']['wall']:.1f} s: x{ratio:.2f}",
        )
    for workload, need in (("A", 5), ("B", 50), ("B-unique", 500)):
        speedup = data.get("speedups", {}).get(workload)
        if speedup is not None:
            results.target(
                f"speedup_{workload}",
                speedup,
                speedup >= need,
                f"{speedup:,.0f}x at {args.cells:,} cells",
            )


# ----------------------------------------------------------------------------- main


def memory_probe(workdir: Path, *, megabytes: int = 512) -> dict:
    """How fast this machine gives a process fresh memory and page cache, in MB/s.

    Both bound every step that writes large outputs (a shard of 4096-gene sentences is ~18 KB
    a cell). On a laptop or a cluster node both are several GB/s; on a VM whose host reclaims
    the guest's free memory, touching it again can cost 10 to 20 times more. Each probe runs
    in a fresh process, the page-cache one first (memory freed by one probe is warm for the
    next for a few seconds).
    """
    path = workdir / ".memory-probe"
    probes = {
        "page_cache_write_mb_s": (
            "import time; block = bytes(1 << 20); t = time.perf_counter()\n"
            f"with open({str(path)!r}, 'wb') as out:\n"
            f"    for _ in range({megabytes}): out.write(block)\n"
            "print(time.perf_counter() - t)"
        ),
        "fresh_memory_mb_s": (
            "import time, numpy as np; t = time.perf_counter(); "
            f"a = np.ones({megabytes} << 20, dtype=np.uint8); print(time.perf_counter() - t)"
        ),
    }
    result = {}
    for name, code in probes.items():
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        seconds = float(run.stdout) if run.returncode == 0 else None
        result[name] = round(megabytes / seconds) if seconds else None
    path.unlink(missing_ok=True)
    return result


def machine_info() -> dict:
    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
    }
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        info["cpu"] = next(
            line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if "model name" in line
        )
        meminfo = Path("/proc/meminfo").read_text().splitlines()[0]
        info["memory_gb"] = round(int(meminfo.split()[1]) / 2**20, 1)
    except (OSError, StopIteration):
        pass
    from importlib.metadata import version

    info["packages"] = {
        name: version(name)
        for name in ("snakemake", "anndata", "zarr", "numpy", "pyarrow", "pandas", "datasets")
    }
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain"], capture_output=True, text=True
        ).stdout.strip()
        info["git"] = {"commit": commit, "dirty": bool(dirty)}
    except OSError:
        pass
    return info


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="everything tiny, in seconds")
    parser.add_argument(
        "--suites",
        nargs="+",
        default=None,
        help="any of hot, baseline, memory, e2e, scaling, by spaces or commas (default: all; "
        "with --smoke all but scaling)",
    )
    data = parser.add_argument_group("synthetic data")
    data.add_argument(
        "--cells", type=int, default=50_000, help="cells per chunk (hot, baseline, e2e)"
    )
    data.add_argument("--genes", type=int, default=20_000)
    data.add_argument("--nnz", type=int, default=2_000, help="nonzeros per cell")
    data.add_argument("--captions", default="30", help="distinct captions, or 'unique'")
    data.add_argument("--batches", type=int, default=5)
    data.add_argument(
        "--chunks", type=int, default=20, help="chunks of the e2e run (scaling: twice as many)"
    )
    data.add_argument(
        "--memory-cells", default="50000,200000", help="chunk sizes of the memory suite"
    )
    data.add_argument("--e2e-genes", type=int, default=2_000, help="genes of the (poisoned) X")
    data.add_argument("--e2e-nnz", type=int, default=20)
    work = parser.add_argument_group("workload")
    work.add_argument(
        "--workloads",
        nargs="+",
        default=["A,B,B-unique"],
        help="workloads of the hot and baseline suites (default: A,B,B-unique)",
    )
    work.add_argument("--cs-length", type=int, default=4096)
    work.add_argument("--k", type=int, default=2, help="negatives_per_sample")
    work.add_argument("--row-block-size", type=int, default=10_000)
    work.add_argument("--sample-pool", type=int, default=1_000_000, help="pool of 'sample' rows")
    run = parser.add_argument_group("runs")
    run.add_argument("--runs", type=int, default=3, help="runs per in-process measurement")
    run.add_argument("--baseline-runs", type=int, default=3, help="runs of the naive baseline")
    run.add_argument("--workflow-runs", type=int, default=3, help="runs of each Snakemake run")
    run.add_argument("--cores", type=int, default=2)
    run.add_argument(
        "--snakemake-args",
        dest="smk_args",
        default="",
        help="extra Snakemake arguments, e.g. '--scheduler greedy' (default: none)",
    )
    run.add_argument("--workdir", type=Path, help="data and runs (default: a temp dir, deleted)")
    run.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each timed run, wait up to SECONDS for idle CPUs (shared machines)",
    )
    run.add_argument(
        "--prefault-mb",
        type=int,
        default=0,
        metavar="MB",
        help="in-process tasks first touch and free MB of memory (VMs whose host reclaims "
        "free memory: measure the code, not the page faults; see the README)",
    )
    run.add_argument("--keep", action="store_true", help="keep generated data and runs")
    run.add_argument("--out", type=Path, default=BENCH / "out", help="folder of the JSON result")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.suites is None:
        args.suites = [
            "hot,baseline,memory,e2e" if args.smoke else "hot,baseline,memory,e2e,scaling"
        ]
    if args.smoke:
        args.cells, args.genes, args.nnz, args.cs_length = 2_000, 500, 60, 64
        args.memory_cells = "2000"
        args.chunks = 2
        args.e2e_genes, args.e2e_nnz = 50, 5
        args.sample_pool = 20_000
        args.runs = args.baseline_runs = args.workflow_runs = 1
        args.row_block_size = 500
    args.memory_cells = [int(x) for x in str(args.memory_cells).split(",") if x]
    args.smk_args = tuple(shlex.split(args.smk_args))
    args.workloads = [w.strip() for item in args.workloads for w in item.split(",") if w.strip()]
    if set(args.workloads) - set(WORKLOADS):
        parser.error(f"--workloads: choose among {sorted(WORKLOADS)}")
    args.suites = [s.strip() for item in args.suites for s in item.split(",") if s.strip()]
    unknown = set(args.suites) - {"hot", "baseline", "memory", "e2e", "scaling"}
    if unknown:
        parser.error(f"unknown suite(s): {sorted(unknown)}")
    args.e2e_cells = args.cells * args.chunks
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        child_main(args.child)
        return 0
    temp = None
    if args.workdir is None:
        temp = tempfile.mkdtemp(prefix="adata-hf-bench-")
        args.workdir = Path(temp)
    args.workdir.mkdir(parents=True, exist_ok=True)
    WAIT_IDLE["max_seconds"] = args.wait_idle
    PREFAULT["mb"] = args.prefault_mb
    results = Results()
    results.sizes_differ = args.smoke
    data: dict = {}
    started = time.perf_counter()
    info = machine_info()
    if args.prefault_mb:
        results.notes.append(
            f"in-process tasks ran after touching and freeing {args.prefault_mb:,} MB "
            "(--prefault-mb); Snakemake jobs did not"
        )
    info["memory_probe"] = memory_probe(args.workdir, megabytes=64 if args.smoke else 512)
    results.notes.append(
        "machine: fresh memory {fresh_memory_mb_s:,} MB/s, page-cache writes "
        "{page_cache_write_mb_s:,} MB/s (first touch; see the README)".format(
            **info["memory_probe"]
        )
    )
    try:
        if {"hot", "baseline"} & set(args.suites):
            t = time.perf_counter()
            data["plain"] = write_data(
                args.workdir / "data-hot",
                [
                    recipe_for(
                        args.cells, args.genes, args.nnz, args.captions, args.batches, "h0", 1
                    )
                ],
            )
            data["unique"] = write_data(
                args.workdir / "data-hot-unique",
                [recipe_for(args.cells, args.genes, args.nnz, "unique", args.batches, "h0", 1)],
            )
            results.notes.append(
                f"hot data: 2 chunks of {args.cells:,} cells x {args.genes:,} genes, "
                f"{args.nnz:,} nonzeros/cell, generated in {time.perf_counter() - t:.1f} s"
            )
        if "hot" in args.suites:
            suite_hot(args, results, data)
        if "baseline" in args.suites:
            suite_baseline(args, results, data)
        if "memory" in args.suites:
            suite_memory(args, results, data)
        if "e2e" in args.suites or "scaling" in args.suites:
            suite_e2e(args, results, data, scaling="scaling" in args.suites)
        evaluate_targets(args, results, data)
    finally:
        if temp and not args.keep:
            shutil.rmtree(temp, ignore_errors=True)

    results.print_table()
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"{stamp}{'-smoke' if args.smoke else ''}.json"
    payload = {
        "created": stamp,
        "seconds_total": time.perf_counter() - started,
        "machine": info,
        "arguments": {
            k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "child"
        },
        "rows": results.rows,
        "targets": results.targets,
        "notes": results.notes,
        "idle_waits": WAIT_IDLE["waited"],
    }
    out.write_text(json.dumps(payload, indent=2, default=str))
    print(f"\nwritten: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
