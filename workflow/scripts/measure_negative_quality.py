"""measure_negative_quality: how hard and how clean one split's negatives are."""

from pathlib import Path

import _package  # noqa: F401  (this checkout's package before any installed one)

from adata_hf_datasets.steps.embedding import read_split_embedding
from adata_hf_datasets.steps.negative_quality import (
    measure_negative_quality,
    negative_quality_summary,
)
from adata_hf_datasets.steps.runtime import run_step


def main(smk, log):
    record = measure_negative_quality(
        chunks=list(smk.params.chunks),
        index_path=Path(smk.input.index),
        pool_path=Path(smk.input.pool),
        embedding=read_split_embedding(smk.input.vectors, smk.input.cells, smk.input.lists),
        negatives=[Path(p) for p in smk.input.negatives],
        k=smk.params.k,
        split=smk.wildcards.split,
        seed=smk.params.seed,
        all_caption_negatives=smk.params.all_caption_negatives,
        mined=smk.params.mined,
    )
    record.write(smk.output[0])
    log.info("%s: %s", smk.wildcards.split, negative_quality_summary(record))


run_step(snakemake, main)
