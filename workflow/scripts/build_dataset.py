"""build_dataset: the load_from_disk-able DatasetDict folder, its summary.json and local card."""

from pathlib import Path

import _package  # noqa: F401  (this checkout's package before any installed one)

from adata_hf_datasets.core.formats import FormatSpec
from adata_hf_datasets.publish.card import write_local_card
from adata_hf_datasets.records import CardSettings, InputsSummary, SplitRecord
from adata_hf_datasets.steps.assemble import build_dataset_folder
from adata_hf_datasets.steps.runtime import run_step


def main(smk, log):
    out_dir = Path(smk.output.summary).parent
    summary = build_dataset_folder(
        out_dir,
        splits={Path(p).stem: SplitRecord.read(p) for p in smk.input.splits},
        spec=FormatSpec.from_json(smk.params.spec),
        dataset_id=smk.params.dataset_id,
        inputs=InputsSummary.read(smk.input.inputs),
        config=smk.params.config,
    )
    card = write_local_card(out_dir, CardSettings.from_json(smk.params.card))
    log.info("dataset card rendered to %s", card)
    for split, info in summary["splits"].items():
        log.info("%s: %d rows", split, info["rows"])
    log.info("dataset written to %s", out_dir)


run_step(snakemake, main)
