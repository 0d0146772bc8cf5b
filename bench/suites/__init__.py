"""The suites of the benchmark (``--suites``): each adds rows and notes to the results, and
leaves in ``data`` the figures later suites and the targets use."""

from __future__ import annotations

import time

from bench.data import recipe_for, write_data
from bench.report import Results
from bench.settings import BenchSettings
from bench.suites.baseline import suite_baseline
from bench.suites.e2e import suite_e2e
from bench.suites.hot import suite_hot
from bench.suites.memory import suite_memory
from bench.suites.mining import suite_mining


def run_suites(settings: BenchSettings, results: Results, data: dict) -> None:
    """The chosen suites in order: hot, baseline (on the same chunks), memory, e2e/scaling,
    mining."""
    s = settings
    if {"hot", "baseline"} & set(s.suites):
        t = time.perf_counter()
        hot = (s.cells, s.genes, s.nnz)
        data["plain"] = write_data(
            s.workdir / "data-hot", [recipe_for(*hot, s.captions, s.batches, "h0", 1)]
        )
        data["unique"] = write_data(
            s.workdir / "data-hot-unique", [recipe_for(*hot, "unique", s.batches, "h0", 1)]
        )
        results.notes.append(
            f"hot data: 2 chunks of {s.cells:,} cells x {s.genes:,} genes, "
            f"{s.nnz:,} nonzeros/cell, generated in {time.perf_counter() - t:.1f} s"
        )
    if "hot" in s.suites:
        suite_hot(s, results, data)
    if "baseline" in s.suites:
        suite_baseline(s, results, data)
    if "memory" in s.suites:
        suite_memory(s, results, data)
    if "e2e" in s.suites or "scaling" in s.suites:
        suite_e2e(s, results, data, scaling="scaling" in s.suites)
    if "mining" in s.suites:
        suite_mining(s, results, data)
