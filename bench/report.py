"""What a benchmark run reports: the table's rows, the targets, notes; printed and as JSON."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from bench.settings import BenchSettings

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


def median(values):
    """The median, or None without values."""
    return statistics.median(values) if values else None


class Results:
    """Rows of the table (each with every run's values), the targets, notes and idle waits."""

    def __init__(self, *, sizes_differ: bool = False) -> None:
        self.rows: list[dict] = []
        self.targets: list[dict] = []
        self.notes: list[str] = []
        self.idle_waits: list[dict] = []  # --wait-idle: each wait before a timed run
        self.sizes_differ = sizes_differ  # --smoke: targets are reported, not judged

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

    def write_json(self, path: Path, *, created, seconds_total, machine, arguments) -> None:
        payload = {
            "created": created,
            "seconds_total": seconds_total,
            "machine": machine,
            "arguments": arguments,
            "rows": self.rows,
            "targets": self.targets,
            "notes": self.notes,
            "idle_waits": self.idle_waits,
        }
        path.write_text(json.dumps(payload, indent=2, default=str))


def evaluate_targets(settings: BenchSettings, results: Results, data: dict) -> None:
    """The issue's targets from the figures the suites left in ``data``."""
    s = settings
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
            ok if s.e2e_cells >= 1_000_000 else None,
            f"{s.e2e_cells:,} cells in {s.chunks} chunks: {e2e['wall']:.1f} s wall, "
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
                f"{speedup:,.0f}x at {s.cells:,} cells",
            )
