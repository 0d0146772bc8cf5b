"""``memory``: workload A through Snakemake on one chunk of each ``--memory-cells`` size, and
the same steps in-process for exact peaks."""

from __future__ import annotations

import shutil

from bench.data import recipe_for, write_data
from bench.report import Results
from bench.settings import BenchSettings
from bench.suites.steps import STEPS, run_steps
from bench.suites.workflow import add_workflow_rows, run_workflow, workflow_config

CORE_RULES = ("cell_sentences", "write_shard")


def suite_memory(settings: BenchSettings, results: Results, data: dict) -> None:
    """Workload A through Snakemake, one chunk per size: peak RSS must not grow."""
    s = settings
    peaks = {}
    for cells in s.memory_cells:
        data_dir = s.workdir / f"data-A-{cells}"
        write_data(data_dir, [recipe_for(cells, s.genes, s.nnz, s.captions, s.batches, "m0", 7)])
        runs = []
        for run in range(s.workflow_runs):
            work = s.workdir / f"wf-A-{cells}-{run}"
            config = workflow_config(s, data_dir, work, "A")
            runs.append(run_workflow(s, results, work, config))
            shutil.rmtree(work, ignore_errors=True)
        summary = add_workflow_rows(results, "memory", f"A {cells:,} cells", cells, runs)
        peaks[cells] = summary["peak_rss_mb"]
        per_chunk = [sum(r["rules"][rule]["seconds"][0] for rule in CORE_RULES) for r in runs]
        row = results.add(
            "memory",
            f"A {cells:,} cells: cell_sentences + write_shard jobs (incl. start-up)",
            cells,
            per_chunk,
            [max(max(r["rules"][x]["max_rss_mb"]) for x in CORE_RULES) for r in runs],
        )
        data.setdefault("A_workflow_rate", {})[cells] = row["rate"]
        # The same steps in-process: exact peaks (VmHWM), where Snakemake samples every 0.5 s.
        chunk = data_dir / "train" / "chunk_0.zarr"
        exact = run_steps(s, results, "A", chunk, data_dir / "steps", 1)["steps"]
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
        if not s.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
    data["memory_peaks"] = peaks
