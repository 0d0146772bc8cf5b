"""The benchmark runs end to end in its tiny mode and writes its JSON (stages, not timings)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.workflow  # runs Snakemake


def test_bench_smoke_writes_every_stage(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "run_bench.py"),
            "--smoke",
            "--workdir",
            str(tmp_path / "work"),
            "--out",
            str(out),
            "--prefault-mb",
            "16",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (result,) = out.glob("*-smoke.json")
    payload = json.loads(result.read_text())
    stages = {row["stage"] for row in payload["rows"]}
    suites = {row["suite"] for row in payload["rows"]}
    assert suites == {"hot", "baseline", "memory", "e2e", "mining"}
    mined = [row for row in payload["rows"] if row["stage"].startswith("mine ")]
    assert mined and all(row["recall"] == 1.0 for row in mined)  # the search is exact
    for workload in ("A", "B", "B-unique"):
        assert f"{workload}: per chunk, all steps" in stages
        assert f"{workload} naive: per chunk, all steps" in stages
    assert "A: per chunk, sentences + shard (target path)" in stages
    assert any(s.startswith("negatives k=4, unique captions: all") for s in stages)
    assert any("whole run, wall" in s for s in stages)
    assert any("write_shard" in s and "job s summed" in s for s in stages)
    assert any(s.startswith("split index") for s in stages)
    for row in payload["rows"]:
        assert set(row) >= {"stage", "cells", "rate", "peak_rss_mb", "seconds"}
    targets = {t["target"] for t in payload["targets"]}
    assert targets >= {"A_chunk_rate", "A_memory", "neg_rate", "B_no_x", "e2e_wall"}
    assert {"machine", "arguments", "notes"} <= set(payload)
    probe = payload["machine"]["memory_probe"]  # the machine's bound, beside its figures
    assert set(probe) == {"fresh_memory_mb_s", "page_cache_write_mb_s"}
    assert all(value > 0 for value in probe.values())
    assert payload["arguments"]["prefault_mb"] == 16
    # X is never read by workload B (instrumented in-process, poisoned in the workflow)
    (no_x,) = [t for t in payload["targets"] if t["target"] == "B_no_x"]
    assert no_x["met"] is True
    # the table is printed
    assert "cells/s" in proc.stdout and "peak RSS" in proc.stdout
