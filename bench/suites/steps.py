"""Measuring in child processes: the workflow's per-chunk steps of a workload, and any task
repeated ``--runs`` times."""

from __future__ import annotations

import shutil
from pathlib import Path

from bench.report import Results
from bench.settings import BenchSettings
from bench.tasks import run_child

STEPS = ("validate", "split_index", "sentences", "negatives", "shard")


def repeat_child(
    settings: BenchSettings, results: Results, task: dict, keys
) -> tuple[dict[str, list[float]], list[float]]:
    """``task`` run ``--runs`` times: the runs' seconds of each of ``keys``, and peak RSS."""
    seconds: dict[str, list[float]] = {key: [] for key in keys}
    rss = []
    for _ in range(settings.runs):
        result = run_child(task, settings, results.idle_waits)
        for key in keys:
            seconds[key].append(result["seconds"][key])
        rss.append(result["peak_rss_mb"])
    return seconds, rss


def run_steps(
    settings: BenchSettings, results: Results, workload: str, chunk: Path, out_root: Path, runs
) -> dict:
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
            task = {
                "task": step,
                "workload": workload,
                "chunk": str(chunk),
                "out": str(out),
                "k": settings.k,
                "cs_length": settings.cs_length,
                "row_block_size": settings.row_block_size,
                "record_x": True,
            }
            result = run_child(task, settings, results.idle_waits)
            steps[step]["seconds"].append(result["seconds"])
            steps[step]["cpu"].append(result["cpu_seconds"])
            steps[step]["rss"].append(result["peak_rss_mb"])
            x_reads += result.get("x_chunks_read", 0)
        shutil.rmtree(out, ignore_errors=True)
    return {"steps": steps, "x_reads": x_reads}


def _per_run(steps: dict, names, key: str, combine) -> list[float]:
    """For each run, ``combine`` (sum, max) of the steps' values."""
    runs = len(steps[names[0]][key])
    return [combine(steps[n][key][r] for n in names) for r in range(runs)]


def add_steps(results, suite, prefix, cells, steps, k, *, gene_lists) -> dict:
    """Rows for each step, the per-chunk total and (gene lists) the sentences + shard path."""
    labels = {
        "validate": "validate (obs, meta table)",
        "split_index": "split index (1 chunk)",
        "sentences": "sentences job (read X, rank, write ranked genes)"
        if gene_lists
        else "sentences job (ids)",
        "negatives": f"negatives job (k={k})",
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
    groups = {"total": ("per chunk, all steps", STEPS)}
    if gene_lists:
        groups["core"] = ("per chunk, sentences + shard (target path)", ("sentences", "shard"))
    return {
        key: results.add(
            suite,
            f"{prefix}: {label}",
            cells,
            _per_run(steps, names, "seconds", sum),
            _per_run(steps, names, "rss", max),
            cpu_runs=_per_run(steps, names, "cpu", sum),
        )
        for key, (label, names) in groups.items()
    }
