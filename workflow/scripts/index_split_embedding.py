"""index_split_embedding: the split's cells in the report (and mining) embedding, once."""

from pathlib import Path

import _package  # noqa: F401  (this checkout's package before any installed one)

from adata_hf_datasets.steps.embedding import build_split_embedding
from adata_hf_datasets.steps.runtime import run_step


def main(smk, log):
    info = build_split_embedding(
        chunks=[(name, Path(path)) for name, path in smk.params.chunks],
        index_path=Path(smk.input.index),
        pool_path=Path(smk.input.pool),
        key=smk.params.key,
        annotation_key=smk.params.annotation_key,
        mining=smk.params.mining,
        seed=smk.params.seed,
        vectors_path=Path(smk.output.vectors),
        cells_path=Path(smk.output.cells),
        lists_path=Path(smk.output.lists),
    )
    log.info("%s: %s", smk.wildcards.split, info)


run_step(snakemake, main)
