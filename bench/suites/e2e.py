"""``e2e`` and ``scaling``: workload B through Snakemake on chunks whose X is poisoned; the
per-job overhead, and what each job reads of the split index."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.data import recipe_for, write_poisoned_data
from bench.report import Results, median
from bench.settings import REPO, BenchSettings
from bench.suites.steps import repeat_child
from bench.suites.workflow import add_workflow_rows, run_workflow, workflow_config


def suite_e2e(settings: BenchSettings, results: Results, data: dict, *, scaling: bool) -> None:
    """Workload B through Snakemake; with ``scaling`` the runs of the two sizes alternate,
    so that a change in the machine's load touches both sizes alike."""
    s = settings
    startup = _startup(s, results)
    sizes = [(s.e2e_cells, s.chunks)]
    if scaling:
        sizes.append((2 * s.e2e_cells, 2 * s.chunks))
    dirs = {cells: _prepare_b(s, results, cells, chunks) for cells, chunks in sizes}
    runs: dict[int, list] = {cells: [] for cells, _ in sizes}
    kept: dict[int, Path] = {}  # the last run of each size, for the split-index reads
    for run in range(s.workflow_runs):
        for cells, _ in sizes:
            work = s.workdir / f"wf-B-{cells}-{run}"
            load = os.getloadavg()[0]
            result = run_workflow(s, results, work, workflow_config(s, dirs[cells], work, "B"))
            result["load_before"] = load
            runs[cells].append(result)
            if run == s.workflow_runs - 1:
                kept[cells] = work
            else:
                shutil.rmtree(work, ignore_errors=True)
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
                f"{overhead * jobs / s.cores:.0f} s of the {summary['wall']:.0f} s wall on "
                f"{s.cores} cores"
            )
        _split_reads(s, results, cells, kept.pop(cells))
        if not s.keep:
            shutil.rmtree(dirs[cells], ignore_errors=True)


def _prepare_b(s: BenchSettings, results: Results, cells_total: int, chunks: int) -> Path:
    """Workload B's chunks, X poisoned (any read of X raises)."""
    per_chunk = cells_total // chunks
    data_dir = s.workdir / f"data-B-{cells_total}-{chunks}"
    t = time.perf_counter()
    recipes = [
        recipe_for(per_chunk, s.e2e_genes, s.e2e_nnz, s.captions, s.batches, f"c{i}", 100 + i)
        for i in range(chunks)
    ]
    write_poisoned_data(data_dir, recipes)
    results.notes.append(
        f"B {cells_total:,}: generated {chunks} chunks in {time.perf_counter() - t:.1f} s; "
        f"X data chunk files poisoned (a read of X raises)"
    )
    return data_dir


def _summarise_b(results: Results, label, cells_total, runs, data_dir) -> dict:
    summary = add_workflow_rows(results, "e2e", label, cells_total, runs)
    summary["jobs"] = runs[0]["jobs"]
    summary["data_dir"] = data_dir
    summary["mean_job_s"] = {
        rule: median([statistics.mean(r["rules"][rule]["seconds"]) for r in runs])
        for rule in runs[0]["rules"]
    }
    results.notes.append(
        f"{label}: wall per run {[round(r['wall'], 1) for r in runs]} s; 1-min load average "
        f"before each run (includes the previous run's tail) {[round(r['load_before'], 2) for r in runs]}"
    )
    return summary


def _startup(s: BenchSettings, results: Results) -> float:
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
    for _ in range(max(3, s.runs)):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        walls.append(time.perf_counter() - t)
    results.add("e2e", "job start-up: python + snakemake.script + package imports", 1, walls, [])
    return median(walls)


def _split_reads(s: BenchSettings, results: Results, cells: int, work: Path) -> None:
    """What a negatives job and a shard job of the kept run read of its split index."""
    task = {
        "task": "split_reads",
        "index": str(work / "results" / "index" / "bench" / "train.arrow"),
        "pool": str(work / "results" / "negative_pool" / "bench" / "train.arrow"),
        "k": s.k,
    }
    secs, rss = repeat_child(s, results, task, ("negatives_read", "shard_read", "negatives_job"))
    rows = (
        ("read by a negatives job (its slice, the mapped pool)", cells, "negatives_read"),
        ("read by a shard job (its negatives' ids, captions)", cells, "shard_read"),
        (f"one negatives job's work ({s.cells:,} anchors)", s.cells, "negatives_job"),
    )
    for label, count, key in rows:
        results.add("e2e", f"split index {cells:,}: {label}", count, secs[key], rss)
    if not s.keep:
        shutil.rmtree(work, ignore_errors=True)
