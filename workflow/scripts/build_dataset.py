"""build_dataset: the load_from_disk-able DatasetDict folder, its summary.json and local card."""

from pathlib import Path

from adata_hf_datasets.publishing import write_local_card
from adata_hf_datasets.summary import build_dataset_folder
from adata_hf_datasets.workflow_support import read_json, run_step


def main(smk, log):
    splits = {Path(p).stem: read_json(p) for p in smk.input.splits}
    summary = build_dataset_folder(
        Path(smk.output.summary).parent,
        splits=splits,
        spec=smk.params.spec,
        dataset_id=smk.params.dataset_id,
        inputs=read_json(smk.input.inputs),
        config=smk.params.config,
    )
    card = write_local_card(Path(smk.output.summary).parent, smk.params.card)
    log.info("dataset card rendered to %s", card)
    for split, info in summary["splits"].items():
        log.info("%s: %d rows", split, info["rows"])
    log.info("dataset written to %s", Path(smk.output.summary).parent)


run_step(snakemake, main)
