"""assemble_split: list a split's shards in order with their statistics (no data copied)."""

from adata_hf_datasets.summary import split_record
from adata_hf_datasets.workflow_support import read_json, run_step, write_json


def main(smk, log):
    counts = [read_json(p) for p in smk.input.get("negative_counts", [])]
    record = split_record(
        shards=list(smk.input.shards),
        stats=[read_json(p) for p in smk.input.stats],
        negative_counts=counts,
        index_info=read_json(smk.input.info),
    )
    write_json(smk.output[0], record)
    log.info(
        "split %s: %d rows in %d shards", smk.wildcards.split, record["rows"], len(record["shards"])
    )


run_step(snakemake, main)
