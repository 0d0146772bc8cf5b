"""sample_negatives: negatives for the anchors of one chunk, drawn from the whole split."""

import time

import _package  # noqa: F401  (this checkout's package before any installed one)

from adata_hf_datasets.io.files import write_json
from adata_hf_datasets.records import HardNegativeSpec
from adata_hf_datasets.steps.negatives import chunk_negatives, write_negatives
from adata_hf_datasets.steps.runtime import run_step


def main(smk, log):
    start = time.perf_counter()
    mining = embedding = None
    if smk.params.mining is not None:
        from adata_hf_datasets.steps.embedding import read_split_embedding

        mining = HardNegativeSpec.from_json(smk.params.mining)
        embedding = read_split_embedding(smk.input.vectors, smk.input.cells, smk.input.lists)
    table, counts = chunk_negatives(
        smk.input.index,
        smk.input.pool,
        split=smk.wildcards.split,
        chunk=smk.wildcards.chunk,
        k=smk.params.k,
        seed=smk.params.seed,
        distinct_captions=smk.params.distinct_captions,
        mining=mining,
        embedding=embedding,
    )
    write_negatives(table, smk.output.negatives)
    write_json(smk.output.counts, counts.to_dict())
    elapsed = time.perf_counter() - start
    log.info(
        "%s/%s: %d anchors, k=%d, %.0f anchors/s, levels %s",
        smk.wildcards.split,
        smk.wildcards.chunk,
        table.num_rows,
        smk.params.k,
        table.num_rows / max(elapsed, 1e-9),
        counts.to_dict(),
    )


run_step(snakemake, main)
