"""cell_sentences: the sentence columns of one chunk (X read in row blocks, only if needed)."""

from adata_hf_datasets.chunk_sentences import SentenceSpec, write_chunk_sentences
from adata_hf_datasets.workflow_support import read_json, run_step


def main(smk, log):
    params = dict(smk.params.spec)
    params["sentence_keys"] = tuple(params["sentence_keys"])
    if smk.input.get("info"):
        params["similar_annotation"] = read_json(smk.input.info)["similar_annotation"]
    label = f"{smk.wildcards.split}/{smk.wildcards.chunk}"
    rows = write_chunk_sentences(
        smk.input.chunk, smk.output[0], SentenceSpec(**params), label=label
    )
    log.info("%s: wrote %d rows of %s", label, rows, list(params["sentence_keys"]))


run_step(snakemake, main)
