"""check_inputs: fail once, listing every problem of every chunk, before any heavy work."""

import _package  # noqa: F401  (this checkout's package before any installed one)

from adata_hf_datasets.records import InputRules
from adata_hf_datasets.steps.runtime import run_step
from adata_hf_datasets.steps.validate import check_inputs


def main(smk, log):
    metas, reports = iter(smk.input.metas), iter(smk.input.reports)
    chunks = {
        split: [(f"{split}/{name}", next(metas), next(reports)) for name in names]
        for split, names in smk.params.splits.items()
    }
    summary = check_inputs(chunks, InputRules.from_json(smk.params.rules))
    for split, info in summary.splits.items():
        log.info("split %s: %d chunks, %d cells", split, info.chunks, info.cells)
        for warning in info.warnings:
            log.warning("%s", warning)
    summary.write(smk.output[0])


run_step(snakemake, main)
