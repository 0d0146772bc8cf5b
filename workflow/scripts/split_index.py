"""split_index: concatenate the chunks' meta tables of one split into the negatives pool."""

import pyarrow.parquet as pq

from adata_hf_datasets._files import atomic_path
from adata_hf_datasets.split_index import build_split_index
from adata_hf_datasets.workflow_support import run_step, write_json


def main(smk, log):
    chunks = list(zip(smk.params.chunks, smk.input.metas, smk.input.reports, strict=True))
    table, info = build_split_index(
        chunks,
        needs_captions=smk.params.needs_captions,
        needs_similarity=smk.params.needs_similarity,
    )
    with atomic_path(smk.output.index) as tmp:
        pq.write_table(table, tmp)
    write_json(smk.output.info, info)
    log.info(
        "split %s: %d cells, %d in the pool, %d dropped (missing caption), %d captions, %d batches",
        smk.wildcards.split,
        info["cells"],
        info["pool"],
        info["dropped_missing_caption"],
        info["captions"],
        info["batches"],
    )


run_step(snakemake, main)
