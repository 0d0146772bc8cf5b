"""Measuring the workflow: a Snakemake run of a workload, timed, and its rules' ``benchmark:``
files read into rows."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.machine import wait_idle
from bench.report import Results, median
from bench.settings import REPO, WORKLOADS, BenchSettings


def workflow_config(settings: BenchSettings, data_dir: Path, work: Path, workload: str) -> dict:
    """The config of a Snakemake run of ``workload`` on ``data_dir``."""
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
            "cs_length": settings.cs_length,
            "row_block_size": settings.row_block_size,
            "negatives_per_sample": settings.k,
            "required_obsm_keys": ["X_pca"],
        },
    }


def run_workflow(settings: BenchSettings, results: Results, work: Path, config: dict) -> dict:
    """``python -m snakemake --cores N --configfile ...`` in ``work`` (``--cores``, then
    ``--snakemake-args``).

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
        str(settings.cores),
        "--configfile",
        str(configfile),
        *settings.smk_args,
    ]
    self_cpu = 0.0
    os.sync()  # start without the write-back of earlier runs pending
    wait_idle(settings.wait_idle, results.idle_waits)
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
    return {
        "wall": wall,
        "jobs": int(done[-1][1]) if done else None,
        "snakemake_cpu": self_cpu,
        "rules": _rule_benchmarks(work / "benchmarks"),
    }


def _rule_benchmarks(root: Path) -> dict[str, dict]:
    """Per rule: its jobs, each job's seconds and max RSS (MB) from ``benchmarks/<rule>/``."""
    rules: dict[str, dict] = {}
    for tsv in sorted(root.rglob("*.tsv")):
        rule = tsv.relative_to(root).parts[0]
        lines = tsv.read_text().splitlines()
        fields = dict(zip(lines[0].split("\t"), lines[-1].split("\t"), strict=True))
        entry = rules.setdefault(rule, {"jobs": 0, "seconds": [], "max_rss_mb": []})
        entry["jobs"] += 1
        entry["seconds"].append(float(fields["s"]))
        rss = fields.get("max_rss", "NA")
        entry["max_rss_mb"].append(float(rss) if rss not in ("NA", "-") else 0.0)
    return rules


def add_workflow_rows(results: Results, suite, label, cells, runs: list[dict]) -> dict:
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
            mean_job_seconds=median([median(r["rules"][rule]["seconds"]) for r in runs]),
        )
    return {"wall": median(walls), "peak_rss_mb": peak}
