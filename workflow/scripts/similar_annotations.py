"""similar_annotations: each annotation's most similar other annotation over a whole split
(for the semantic_similar sentences), from the chunks' validation reports."""

import _package  # noqa: F401  (this checkout's package before any installed one)

from adata_hf_datasets.io.files import write_json
from adata_hf_datasets.steps.runtime import run_step
from adata_hf_datasets.steps.split_index import split_similar_annotations


def main(smk, log):
    similar = split_similar_annotations(list(smk.input.reports))
    write_json(smk.output[0], similar)
    log.info("split %s: %d annotations", smk.wildcards.split, len(similar))


run_step(snakemake, main)
