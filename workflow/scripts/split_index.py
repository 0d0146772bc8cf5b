"""split_index: concatenate the chunks' meta tables of one split into the negatives pool."""

import _package  # noqa: F401  (this checkout's package before any installed one)

from adata_hf_datasets.steps.runtime import run_step
from adata_hf_datasets.steps.split_index import (
    build_split_index,
    negative_pool,
    write_index,
    write_negative_pool,
)


def main(smk, log):
    chunks = list(zip(smk.params.chunks, smk.input.metas, strict=True))
    stats = smk.input.get("sentence_stats")
    table, info = build_split_index(
        chunks,
        needs_captions=smk.params.needs_captions,
        sentence_stats=list(stats) if stats else None,
    )
    write_index(table, smk.output.index)
    write_negative_pool(negative_pool(table), smk.output.pool)  # sorted once for all jobs
    info.write(smk.output.info)
    log.info(
        "split %s: %d cells, %d in the pool, %d dropped (missing caption), %d dropped (empty "
        "gene list), %d captions, %d batches",
        smk.wildcards.split,
        info.cells,
        info.pool,
        info.dropped_missing_caption,
        info.dropped_empty_sentence,
        info.captions,
        info.batches,
    )


run_step(snakemake, main)
