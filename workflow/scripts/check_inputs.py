"""check_inputs: fail once, listing every problem of every chunk, before any heavy work."""

from adata_hf_datasets.validation import check_inputs
from adata_hf_datasets.workflow_support import run_step, write_json


def main(smk, log):
    metas, reports = iter(smk.input.metas), iter(smk.input.reports)
    chunks = {
        split: [(f"{split}/{name}", next(metas), next(reports)) for name in names]
        for split, names in smk.params.splits.items()
    }
    summary = check_inputs(chunks)
    for split, info in summary.items():
        log.info("split %s: %d chunks, %d cells", split, info["chunks"], info["cells"])
        for warning in info["warnings"]:
            log.warning("%s", warning)
    write_json(smk.output[0], summary)


run_step(snakemake, main)
