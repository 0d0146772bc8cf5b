"""validate_chunk: inspect one chunk (obs, obsm keys, var; never X) and write its meta table."""

from adata_hf_datasets.validation import InspectionSpec, inspect_chunk, write_inspection
from adata_hf_datasets.workflow_support import run_step


def main(smk, log):
    spec = InspectionSpec(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in smk.params.spec.items()}
    )
    meta, report = inspect_chunk(smk.input.chunk, spec)
    for warning in report["warnings"]:
        log.warning("%s", warning)
    for problem in report["problems"]:
        log.error("%s", problem)  # reported together by check_inputs
    log.info("%s: %d cells, obsm keys %s", smk.input.chunk, report["n_obs"], report["obsm_keys"])
    write_inspection(meta, report, meta_path=smk.output.meta, report_path=smk.output.report)


run_step(snakemake, main)
