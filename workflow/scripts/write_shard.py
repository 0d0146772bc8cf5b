"""write_shard: one Arrow shard per chunk, in the configured dataset format."""

from pathlib import Path

from adata_hf_datasets.chunk_shard import build_chunk_shard
from adata_hf_datasets.shards import FormatSpec
from adata_hf_datasets.workflow_support import run_step, write_json


def main(smk, log):
    spec = FormatSpec(**smk.params.spec)
    split_files = None
    if smk.input.get("split_sentences"):
        split_files = {Path(p).stem: Path(p) for p in smk.input.split_sentences}
    link = smk.params.link
    if smk.input.get("link"):
        from adata_hf_datasets.nextcloud import read_receipt  # (requests) only with Nextcloud

        link = read_receipt(Path(smk.input.link)).link
    stats = build_chunk_shard(
        spec=spec,
        chunk=smk.wildcards.chunk,
        sentences_path=smk.input.sentences,
        meta_path=smk.input.meta,
        index_path=smk.input.index,
        link=link,
        negatives_path=smk.input.get("negatives"),
        split_sentence_files=split_files,
        shard_path=Path(smk.output.shard),
    )
    write_json(smk.output.stats, stats)
    log.info(
        "%s/%s: %d rows written (%s)",
        smk.wildcards.split,
        smk.wildcards.chunk,
        stats["rows"],
        spec.dataset_format,
    )


run_step(snakemake, main)
