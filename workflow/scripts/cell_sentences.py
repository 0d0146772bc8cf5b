"""cell_sentences: the sentence columns of one chunk (X read in row blocks, only if needed)."""

import _package  # noqa: F401  (this checkout's package before any installed one)

from adata_hf_datasets.records import SentenceSpec, SplitInfo
from adata_hf_datasets.steps.runtime import run_step
from adata_hf_datasets.steps.sentences import write_chunk_sentences


def main(smk, log):
    spec = SentenceSpec.from_json(smk.params.spec)
    similar = SplitInfo.read(smk.input.info).similar_annotation if smk.input.get("info") else None
    label = f"{smk.wildcards.split}/{smk.wildcards.chunk}"
    rows = write_chunk_sentences(
        smk.input.chunk,
        smk.output[0],
        spec,
        # from the config, not params: it changes memory, not results, so editing it reruns nothing
        row_block_size=smk.config["dataset_creation"]["row_block_size"],
        similar_annotation=similar,
        label=label,
    )
    log.info("%s: wrote %d rows of %s", label, rows, list(spec.sentence_keys))


run_step(snakemake, main)
