"""write_shard: one Arrow shard per chunk, in the configured dataset format."""

from pathlib import Path

import _package  # noqa: F401  (this checkout's package before any installed one)

from adata_hf_datasets.core.formats import FormatSpec
from adata_hf_datasets.steps.runtime import run_step
from adata_hf_datasets.steps.shard import build_chunk_shard


def main(smk, log):
    spec = FormatSpec.from_json(smk.params.spec)
    split_files = None
    if smk.input.get("split_sentences"):
        split_files = {Path(p).stem: Path(p) for p in smk.input.split_sentences}
    link = smk.params.link
    if smk.input.get("link"):
        # imported here: requests is loaded only with Nextcloud
        from adata_hf_datasets.publish.nextcloud import read_receipt

        link = read_receipt(Path(smk.input.link)).link
    stats = build_chunk_shard(
        spec=spec,
        chunk=smk.wildcards.chunk,
        sentences_path=smk.input.get("sentences"),
        meta_path=smk.input.meta,
        index_path=smk.input.index,
        link=link,
        negatives_path=smk.input.get("negatives"),
        split_sentence_files=split_files,
        sentence_keys=tuple(smk.params.sentence_keys),
        shard_path=Path(smk.output.shard),
    )
    stats.write(smk.output.stats)
    log.info(
        "%s/%s: %d rows written (%s)",
        smk.wildcards.split,
        smk.wildcards.chunk,
        stats.rows,
        spec.dataset_format,
    )


run_step(snakemake, main)
