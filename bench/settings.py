"""What a benchmark run is asked to do: the workloads, and the settings parsed from the CLI."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
SEED = 42

SUITES = ("hot", "baseline", "memory", "e2e", "scaling", "mining")
# The workloads of the issue: (sentence keys, captions knob). Data knobs come from the CLI.
WORKLOADS = {
    "A": {"sentence_keys": ["sample_id_og", "cell_sentence"], "unique": False},
    "B": {"sentence_keys": ["sample_id_og"], "unique": False},
    "B-unique": {"sentence_keys": ["sample_id_og"], "unique": True},
}


def gene_lists(workload: str) -> bool:
    """Whether a workload's sentences are ranked gene lists (it reads X)."""
    return "cell_sentence" in WORKLOADS[workload]["sentence_keys"]


@dataclass(frozen=True)
class BenchSettings:
    """The parsed command line (``--smoke`` applied), in the order of its flags.

    Built once by ``run_bench.py`` and handed to whatever needs a knob; the JSON result
    records it as ``arguments``.
    """

    smoke: bool
    suites: tuple[str, ...]
    # synthetic data
    cells: int
    genes: int
    nnz: int
    captions: str
    batches: int
    chunks: int
    memory_cells: tuple[int, ...]
    e2e_genes: int
    e2e_nnz: int
    # workload
    workloads: tuple[str, ...]
    cs_length: int
    k: int
    row_block_size: int
    sample_pool: int
    mining_pools: tuple[int, ...]
    mining_anchors: int
    mining_dims: int
    # runs
    runs: int
    baseline_runs: int
    workflow_runs: int
    cores: int
    smk_args: tuple[str, ...]
    workdir: Path
    wait_idle: float
    prefault_mb: int
    keep: bool
    out: Path
    # derived
    e2e_cells: int

    def as_json(self) -> dict:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}
