"""cell_sentences: the sentence columns of one chunk (X read in row blocks, only if needed)."""

import _package  # noqa: F401  (this checkout's package before any installed one)

from adata_hf_datasets.io.files import read_json
from adata_hf_datasets.records import SentenceSpec
from adata_hf_datasets.steps.runtime import run_step
from adata_hf_datasets.steps.sentences import write_chunk_sentences


def main(smk, log):
    spec = SentenceSpec.from_json(smk.params.spec)
    similar = read_json(smk.input.similar) if smk.input.get("similar") else None
    label = f"{smk.wildcards.split}/{smk.wildcards.chunk}"
    stats = write_chunk_sentences(
        smk.input.chunk,
        smk.output.sentences,
        spec,
        # a resource, not a param: it changes memory, not results, so editing it reruns nothing
        row_block_size=smk.resources.row_block_size,
        similar_annotation=similar,
        label=label,
    )
    stats.write(smk.output.stats)
    log.info("%s: wrote %d rows of %s", label, stats.rows, list(spec.sentence_keys))
    if stats.empty_rows:
        log.warning(
            "%s: %d cell(s) have an empty gene list (no expressed gene among the ranked genes), "
            "e.g. %s",
            label,
            len(stats.empty_rows),
            list(stats.empty_examples),
        )


run_step(snakemake, main)
