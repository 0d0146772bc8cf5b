"""assemble_split: list a split's shards in order with their statistics (no data copied)."""

from pathlib import Path

import _package  # noqa: F401  (this checkout's package before any installed one)

from adata_hf_datasets.io.files import read_json
from adata_hf_datasets.records import SentenceStats, ShardStats, SplitInfo
from adata_hf_datasets.steps.assemble import split_record
from adata_hf_datasets.steps.runtime import run_step


def main(smk, log):
    record = split_record(
        shards=list(smk.input.shards),
        stats=[ShardStats.read(p) for p in smk.input.stats],
        negative_counts=[read_json(p) for p in smk.input.get("negative_counts", [])],
        info=SplitInfo.read(smk.input.info),
        sentence_stats=[
            (Path(p).stem, SentenceStats.read(p)) for p in smk.input.get("sentence_stats", [])
        ],
        on_empty_sentence=smk.params.on_empty_sentence,
        split=smk.wildcards.split,
    )
    record.write(smk.output[0])
    log.info("split %s: %d rows in %d shards", smk.wildcards.split, record.rows, len(record.shards))


run_step(snakemake, main)
