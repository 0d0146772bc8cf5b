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
``mining``    hard negatives: one chunk's anchors (``--mining-anchors``) mined against
              generated clustered splits of ``--mining-pools`` cells: index time, anchors/s,
              peak RSS, and the recall of the mined window against brute force; side by side,
              faiss ``IndexFlatIP`` on the same vectors (when faiss-cpu is installed: the
              ``bench`` extra).

``python bench/run_bench.py`` runs everything at the issue's sizes (about 15 minutes on 2
cores); ``--smoke`` runs everything tiny in under a minute (the test suite uses it).

This file is the command line; the rest of ``bench/``: ``settings.py`` (workloads, the parsed
settings), ``tasks.py`` (what a child process runs: ``run_bench.py --child <task JSON>``),
``data.py`` (synthetic and poisoned chunks), ``suites/`` (one module a suite, and the
measuring of steps and Snakemake runs), ``report.py`` (table, JSON, targets), ``machine.py``
(machine and memory probes) and ``naive_baseline.py``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import fields
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
# The modules of bench/ are imported as the package ``bench`` (from the repository root, which
# also gives ``tests.support.synthetic``); bench/ itself, first on the path of a script, is
# dropped so that they do not shadow top-level modules of the same name.
if sys.path and Path(sys.path[0] or ".").resolve() == BENCH:
    del sys.path[0]
for _path in (str(REPO / "workflow" / "lib"), str(REPO)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from bench.machine import machine_info, memory_probe  # noqa: E402
from bench.report import Results, evaluate_targets  # noqa: E402
from bench.settings import SUITES, WORKLOADS, BenchSettings  # noqa: E402
from bench.suites import run_suites  # noqa: E402
from bench.tasks import child_main  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="everything tiny, in seconds")
    parser.add_argument(
        "--suites",
        nargs="+",
        default=None,
        help="any of hot, baseline, memory, e2e, scaling, mining, by spaces or commas "
        "(default: all; with --smoke all but scaling)",
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
    work.add_argument(
        "--mining-pools",
        default="100000,1000000",
        help="split sizes of the mining suite (clustered embeddings, 30 captions, 5 batches)",
    )
    work.add_argument(
        "--mining-anchors", type=int, default=50_000, help="anchors mined (one chunk)"
    )
    work.add_argument("--mining-dims", type=int, default=50, help="embedding dimensions")
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
            "hot,baseline,memory,e2e,mining"
            if args.smoke
            else "hot,baseline,memory,e2e,scaling,mining"
        ]
    if args.smoke:
        args.cells, args.genes, args.nnz, args.cs_length = 2_000, 500, 60, 64
        args.memory_cells = "2000"
        args.chunks = 2
        args.e2e_genes, args.e2e_nnz = 50, 5
        args.sample_pool = 20_000
        args.mining_pools, args.mining_anchors = "5000", 1_000
        args.runs = args.baseline_runs = args.workflow_runs = 1
        args.row_block_size = 500
    args.memory_cells = tuple(int(x) for x in str(args.memory_cells).split(",") if x)
    args.mining_pools = tuple(int(x) for x in str(args.mining_pools).split(",") if x)
    args.smk_args = tuple(shlex.split(args.smk_args))
    args.workloads = _listed(args.workloads)
    if set(args.workloads) - set(WORKLOADS):
        parser.error(f"--workloads: choose among {sorted(WORKLOADS)}")
    args.suites = _listed(args.suites)
    unknown = set(args.suites) - set(SUITES)
    if unknown:
        parser.error(f"unknown suite(s): {sorted(unknown)}")
    args.e2e_cells = args.cells * args.chunks
    return args


def _listed(items: list[str]) -> tuple[str, ...]:
    """Names given by spaces or commas (``--suites hot,e2e scaling``)."""
    return tuple(x.strip() for item in items for x in item.split(",") if x.strip())


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:  # a task in a fresh process (bench/tasks.py)
        child_main(args.child)
        return 0
    temp = None if args.workdir is not None else Path(tempfile.mkdtemp(prefix="adata-hf-bench-"))
    values = {field.name: getattr(args, field.name) for field in fields(BenchSettings)}
    settings = BenchSettings(**{**values, "workdir": temp or args.workdir})
    settings.workdir.mkdir(parents=True, exist_ok=True)
    results = Results(sizes_differ=settings.smoke)
    data: dict = {}  # figures the suites hand on to later suites and to the targets
    started = time.perf_counter()
    info = machine_info()
    if settings.prefault_mb:
        results.notes.append(
            f"in-process tasks ran after touching and freeing {settings.prefault_mb:,} MB "
            "(--prefault-mb); Snakemake jobs did not"
        )
    info["memory_probe"] = memory_probe(settings.workdir, megabytes=64 if settings.smoke else 512)
    results.notes.append(
        "machine: fresh memory {fresh_memory_mb_s:,} MB/s, page-cache writes "
        "{page_cache_write_mb_s:,} MB/s (first touch; see the README)".format(
            **info["memory_probe"]
        )
    )
    try:
        run_suites(settings, results, data)
        evaluate_targets(settings, results, data)
    finally:
        if temp and not settings.keep:
            shutil.rmtree(temp, ignore_errors=True)

    results.print_table()
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    settings.out.mkdir(parents=True, exist_ok=True)
    out = settings.out / f"{stamp}{'-smoke' if settings.smoke else ''}.json"
    results.write_json(
        out,
        created=stamp,
        seconds_total=time.perf_counter() - started,
        machine=info,
        arguments=settings.as_json(),
    )
    print(f"\nwritten: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
