"""validate_chunk: inspect one chunk (obs, obsm keys, var; never X) and write its meta table."""

import _package  # noqa: F401  (this checkout's package before any installed one)

from adata_hf_datasets.records import InspectionSpec
from adata_hf_datasets.steps.runtime import run_step
from adata_hf_datasets.steps.validate import inspect_chunk, write_inspection


def main(smk, log):
    meta, report = inspect_chunk(smk.input.chunk, InspectionSpec.from_json(smk.params.spec))
    for problem in report.problems:
        log.error("%s", problem)  # reported together by check_inputs
    log.info("%s: %d cells, obsm keys %s", smk.input.chunk, report.n_obs, list(report.obsm_keys))
    write_inspection(meta, report, meta_path=smk.output.meta, report_path=smk.output.report)


run_step(snakemake, main)
