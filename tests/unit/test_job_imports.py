"""Per-chunk jobs load only what they use: every module costs each of the thousands of jobs
of a big split its import time (anndata ~0.4 s, scipy ~0.15 s, jsonschema ~0.1 s)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from tests.support.specs import settings

# Loaded by none of the jobs of the recommended configuration (ids, captions, negatives).
HEAVY = ("anndata", "scipy", "jsonschema", "requests", "h5py")


def imported_by(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return eval(result.stdout.strip().splitlines()[-1])  # a list literal we printed


def test_every_step_of_the_recommended_configuration(tmp_path: Path) -> None:
    n = 6
    obs = pd.DataFrame(
        {
            "caption": pd.Categorical(["a", "b", None, "a", "b", "c"]),
            "batch": np.arange(n) % 2,
        },
        index=[f"c{i}" for i in range(n)],
    )
    adata = ad.AnnData(X=np.zeros((n, 2), dtype=np.float32), obs=obs)
    adata.var["gene_name"] = ["g0", "g1"]
    adata.obsm["X_pca"] = np.zeros((n, 2))
    chunk = tmp_path / "chunk_0.zarr"
    adata.write_zarr(chunk)
    recommended = settings(sentence_keys=["sample_id_og"], required_obsm_keys=["X_pca"])
    inspection = recommended.inspection_spec().to_json()
    sentences = recommended.sentence_spec().to_json()
    code = f"""
from pathlib import Path
from adata_hf_datasets.core.formats import FormatSpec
from adata_hf_datasets.records import InspectionSpec, SentenceSpec
from adata_hf_datasets.steps.negatives import chunk_negatives, write_negatives
from adata_hf_datasets.steps.sentences import write_chunk_sentences
from adata_hf_datasets.steps.shard import build_chunk_shard
from adata_hf_datasets.steps.split_index import (
    build_split_index, negative_pool, write_index, write_negative_pool)
from adata_hf_datasets.steps.validate import inspect_chunk, write_inspection
chunk, out = Path({str(chunk)!r}), Path({str(tmp_path)!r})
spec = InspectionSpec.from_json({inspection!r})
meta, report = inspect_chunk(chunk, spec)
assert report.n_missing_caption == 1 and not report.problems, report
write_inspection(meta, report, meta_path=out / "meta.arrow", report_path=out / "report.json")
write_chunk_sentences(chunk, out / "s.arrow", SentenceSpec.from_json({sentences!r}),
                      row_block_size=100)
table, info = build_split_index([("chunk_0", out / "meta.arrow")], needs_captions=True)
write_index(table, out / "index.arrow")
write_negative_pool(negative_pool(table), out / "pool.arrow")
negatives, _ = chunk_negatives(out / "index.arrow", out / "pool.arrow", split="train",
                               chunk="chunk_0", k=2, seed=0)
write_negatives(negatives, out / "negatives.arrow")
stats = build_chunk_shard(
    spec=FormatSpec("multiplets", 1, 2), chunk="chunk_0", sentences_path=out / "s.arrow",
    meta_path=out / "meta.arrow", index_path=out / "index.arrow", link=str(chunk),
    negatives_path=out / "negatives.arrow", shard_path=out / "shard.arrow")
assert stats.rows == 5, stats
"""
    assert imported_by(code) == []
