"""measure_negative_quality: how hard and how clean one split's negatives are."""

from pathlib import Path

import _package  # noqa: F401  (this checkout's package before any installed one)

from adata_hf_datasets.steps.negative_quality import (
    measure_negative_quality,
    negative_quality_summary,
)
from adata_hf_datasets.steps.runtime import run_step


def main(smk, log):
    output = Path(smk.output[0])
    record = measure_negative_quality(
        chunks=[(name, Path(path)) for name, path in smk.params.chunks],
        index_path=Path(smk.input.index),
        pool_path=Path(smk.input.pool),
        negatives=[Path(p) for p in smk.input.negatives],
        k=smk.params.k,
        split=smk.wildcards.split,
        seed=smk.params.seed,
        embedding_key=smk.params.embedding,
        annotation_key=smk.params.annotation_key,
        all_caption_negatives=smk.params.all_caption_negatives,
        scratch=output.with_suffix(".vectors.npy"),
    )
    record.write(output)
    log.info("%s: %s", smk.wildcards.split, negative_quality_summary(record))


run_step(snakemake, main)
