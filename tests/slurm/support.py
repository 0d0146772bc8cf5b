"""Shared by the SLURM profile tests: paths, the bundled example, Snakemake's output parsed."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
PROFILE = REPO / "profiles" / "slurm"
CLUSTER_SCRIPTS = REPO / "tests" / "cluster"
EXAMPLE_CONFIG = REPO / "config" / "example.yaml"
EXAMPLE_DATA = REPO / "example" / "data"

# The bundled example (config/example.yaml): train has 2 chunks, val 1.
CHUNKS = [("train", "chunk_0"), ("train", "chunk_1"), ("val", "chunk_0")]
SPLITS = ["train", "val"]
NAME = "pbmc68k_reduced"
DATASET = "pbmc68k_reduced_multiplets_natural_language_annotation"
PER_CHUNK_RULES = ["validate_chunk", "cell_sentences", "sample_negatives", "write_shard"]
PER_SPLIT_RULES = ["split_index", "index_split_embedding", "measure_negative_quality"]
# Rules marked `localrule: True` in the example's DAG (no Nextcloud, no Hub push).
LOCAL_RULES = {"check_inputs", "build_dataset"}
# Every job that must become a SLURM job: (rule, "split/chunk" or "split").
REMOTE_JOBS = {(r, f"{s}/{c}") for r in PER_CHUNK_RULES for s, c in CHUNKS} | {
    (r, s) for r in PER_SPLIT_RULES for s in SPLITS
}

SLURM_ENV_PREFIXES = ("SLURM_", "SBATCH_", "SALLOC_", "SRUN_")


def clean_env(**extra: str) -> dict[str, str]:
    """os.environ without any SLURM/SBATCH variable or PYTHONPATH, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(SLURM_ENV_PREFIXES) and k not in ("PYTHONPATH", "SNAKEMAKE_PROFILE")
    }
    env.update(extra)
    return env


def write_paths_config(workdir: Path, data: Path = EXAMPLE_DATA) -> Path:
    """A config that points the example at absolute paths: data in the repo, output in workdir."""
    path = workdir / "paths.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "base_file_path": str(data),
                "dataset_creation": {"output_dir": str(workdir / "out")},
            }
        )
    )
    return path


def snakemake_args(workdir: Path, *extra: str, python: str = sys.executable) -> list[str]:
    """``python -m snakemake`` on the example in ``workdir`` with the SLURM profile."""
    return [
        python,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--profile",
        str(PROFILE),
        "--configfile",
        str(EXAMPLE_CONFIG),
        str(workdir / "paths.yaml"),
        *extra,
    ]


@dataclass
class JobBlock:
    jobid: int
    rule: str
    label: str
    local: bool
    resources: dict[str, str] = field(default_factory=dict)


@dataclass
class SnakemakeOutput:
    """What one Snakemake run printed: its job blocks, SLURM submissions, finished jobs."""

    text: str
    blocks: list[JobBlock] = field(default_factory=list)
    submitted: list[tuple[int, int, Path]] = field(default_factory=list)
    """(Snakemake jobid, SLURM job id, SLURM log file), in submission order."""
    finished: set[int] = field(default_factory=set)
    run_id: str | None = None

    @classmethod
    def parse(cls, text: str) -> SnakemakeOutput:
        out = cls(text)
        block_re = re.compile(r"^(local)?rule (\w+):\n((?:    .*\n?)+)", re.MULTILINE)
        for m in block_re.finditer(text):
            body = m.group(3)
            jobid = re.search(r"^    jobid: (\d+)$", body, re.MULTILINE)
            if jobid is None:
                continue
            wildcards = re.search(r"^    wildcards: (.*)$", body, re.MULTILINE)
            label = ""
            if wildcards:
                values = dict(kv.split("=", 1) for kv in wildcards.group(1).split(", "))
                label = "/".join(v for k, v in values.items() if k in ("split", "chunk"))
            resources = {}
            found = re.search(r"^    resources: (.*)$", body, re.MULTILINE)
            if found:
                resources = dict(kv.split("=", 1) for kv in found.group(1).split(", ") if "=" in kv)
            out.blocks.append(
                JobBlock(int(jobid.group(1)), m.group(2), label, bool(m.group(1)), resources)
            )
        for m in re.finditer(
            r"^Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (.+?)\)\.?$",
            text,
            re.MULTILINE,
        ):
            out.submitted.append((int(m.group(1)), int(m.group(2)), Path(m.group(3))))
        out.finished = {int(j) for j in re.findall(r"^Finished jobid: (\d+)", text, re.MULTILINE)}
        run_id = re.search(r"SLURM run ID: (\S+)", text)
        out.run_id = run_id.group(1) if run_id else None
        return out

    def job(self, jobid: int) -> JobBlock:
        # a job printed twice (a retry) keeps its jobid, rule and label
        return next(b for b in self.blocks if b.jobid == jobid)

    def submitted_jobs(self) -> list[tuple[str, str, int]]:
        """(rule, label, SLURM job id) of every submission."""
        return [(self.job(j).rule, self.job(j).label, sid) for j, sid, _ in self.submitted]

    def finished_jobs(self) -> set[tuple[str, str]]:
        return {(self.job(j).rule, self.job(j).label) for j in self.finished}

    def local_jobs(self) -> list[tuple[str, str]]:
        return [(b.rule, b.label) for b in self.blocks if b.local]
