"""``hot``: every per-chunk step of each workload in a fresh process, then X reading, ranking,
text and negative sampling on their own."""

from __future__ import annotations

from bench.report import Results, median
from bench.settings import WORKLOADS, BenchSettings, gene_lists
from bench.suites.steps import STEPS, add_steps, repeat_child, run_steps


def suite_hot(settings: BenchSettings, results: Results, data: dict) -> None:
    """Every per-chunk step in-process, each in a fresh process; A, B, B-unique."""
    s = settings
    for workload in s.workloads:
        chunk = data["unique" if WORKLOADS[workload]["unique"] else "plain"][0]
        out_root = s.workdir / "hot" / workload
        measured = run_steps(s, results, workload, chunk, out_root, s.runs)
        lists = gene_lists(workload)
        rows = add_steps(
            results, "hot", workload, s.cells, measured["steps"], s.k, gene_lists=lists
        )
        if lists:
            data["A_chunk_rate"] = rows["core"]["rate"]
        else:
            data.setdefault("x_reads", {})[workload] = measured["x_reads"]
        data.setdefault("ours_total", {})[workload] = rows["total"]["seconds"]
        steps = measured["steps"]
        data.setdefault("ours_steps", {})[workload] = {
            step: median(steps[step]["seconds"]) for step in STEPS
        }
    if "A" in s.workloads:
        _rank_text(s, results, data)
    data["neg_rates"] = _sampling(s, results)


def _rank_text(s: BenchSettings, results: Results, data: dict) -> None:
    """Reading, ranking and text on their own (same chunk, one block at a time)."""
    task = {
        "task": "rank_text",
        "chunk": str(data["plain"][0]),
        "cs_length": s.cs_length,
        "row_block_size": s.row_block_size,
    }
    parts, rss = repeat_child(s, results, task, ("read", "rank", "text"))
    results.add("hot", "A: read X (row blocks, zarr chunks decoded)", s.cells, parts["read"], [])
    results.add("hot", f"A: rank (cs_length {s.cs_length})", s.cells, parts["rank"], [])
    results.add("hot", "A: text (spell the ranked genes)", s.cells, parts["text"], rss)


def _sampling(s: BenchSettings, results: Results) -> list[float]:
    """Negative sampling alone, k=4: the anchors of one chunk in a split-sized pool, and every
    cell of the pool as an anchor (pool construction included). Returns the anchors/s."""
    rates = []
    pool = s.sample_pool
    for unique in (False, True):
        label = "unique captions" if unique else f"{s.captions} captions"
        for anchors in (min(s.cells, pool), pool):
            task = {
                "task": "sample",
                "pool": pool,
                "anchors": anchors,
                "captions": s.captions if s.captions != "unique" else 30,
                "batches": s.batches,
                "unique": unique,
                "k": 4,
            }
            timings, rss = repeat_child(s, results, task, ("pool", "sample"))
            if anchors < pool:
                row = results.add(
                    "hot",
                    f"negatives k=4, {label}: sample {anchors:,} anchors, pool {pool:,}",
                    anchors,
                    timings["sample"],
                    rss,
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
                    rss,
                    unit="anchors",
                )
            rates.append(row["rate"])
    return rates
