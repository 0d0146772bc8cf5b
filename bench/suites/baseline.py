"""``baseline``: the same chunks through ``bench/naive_baseline.py``; the speed-ups."""

from __future__ import annotations

import shutil

from bench.report import Results, median
from bench.settings import WORKLOADS, BenchSettings, gene_lists
from bench.tasks import run_child


def suite_baseline(settings: BenchSettings, results: Results, data: dict) -> None:
    """The naive baseline on the same chunks; speed-ups against the hot suite's totals."""
    s = settings
    for workload in s.workloads:
        chunk = data["unique" if WORKLOADS[workload]["unique"] else "plain"][0]
        totals, rss, steps = [], [], {}
        for run in range(s.baseline_runs):
            out = s.workdir / "naive" / workload / f"run{run}"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            task = {
                "task": "naive",
                "workload": workload,
                "chunk": str(chunk),
                "out": str(out),
                "k": s.k,
                "cs_length": s.cs_length,
                "cells": s.cells,
            }
            result = run_child(task, s, results.idle_waits)
            shutil.rmtree(out, ignore_errors=True)
            totals.append(sum(result["seconds"].values()))
            rss.append(result["peak_rss_mb"])
            for step, secs in result["seconds"].items():
                steps.setdefault(step, []).append(secs)
        for step, secs in steps.items():
            if step == "sentences" and not gene_lists(workload):
                continue  # ids only: nothing to measure
            results.add("baseline", f"{workload} naive: {step}", s.cells, secs, [])
        results.add("baseline", f"{workload} naive: per chunk, all steps", s.cells, totals, rss)
        _compare(s, results, data, workload, steps, totals)


def _compare(s: BenchSettings, results: Results, data: dict, workload, steps, totals) -> None:
    """Notes on the naive steps against ours, and the speed-up per chunk (hot suite run)."""
    ours_steps = data.get("ours_steps", {}).get(workload)
    if ours_steps:
        naive_neg = median(steps["negatives"])
        results.notes.append(
            f"{workload}: negatives alone, naive {naive_neg:.2f} s vs ours (the whole "
            f"negatives step: read index, sample, write) {ours_steps['negatives']:.3f} s: "
            f"{naive_neg / ours_steps['negatives']:,.0f}x"
        )
        if gene_lists(workload):
            naive_sent = median(steps["sentences"])
            ours_sent = ours_steps["sentences"] + ours_steps["shard"]
            results.notes.append(
                f"{workload}: sentences, naive {naive_sent:.2f} s (densify, argsort, join) "
                f"vs ours {ours_sent:.2f} s (read X, rank, spell, write the shard): "
                f"{naive_sent / ours_sent:,.0f}x"
            )
    ours = data.get("ours_total", {}).get(workload)
    if ours:
        speedup = median(totals) / ours
        data.setdefault("speedups", {})[workload] = speedup
        results.notes.append(
            f"{workload}: naive {median(totals):.2f} s vs ours {ours:.3f} s per chunk "
            f"of {s.cells:,} cells: {speedup:,.0f}x"
        )
