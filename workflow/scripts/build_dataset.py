"""build_dataset: the load_from_disk-able DatasetDict folder, its summary.json and local card.

The folder is built beside the previous one and swapped in only when complete (data,
dataset_info/state, summary.json, card): a failed run leaves the previous dataset as it was.
"""

from pathlib import Path

import _package  # noqa: F401  (this checkout's package before any installed one)

from adata_hf_datasets.core.formats import FormatSpec
from adata_hf_datasets.io.files import build_beside
from adata_hf_datasets.publish.card import write_local_card
from adata_hf_datasets.records import BuiltDataset, CardSettings, InputsSummary, SplitRecord
from adata_hf_datasets.steps.assemble import build_dataset_folder
from adata_hf_datasets.steps.runtime import run_step


def main(smk, log):
    out_dir = Path(smk.params.out)
    with build_beside(out_dir) as folder:
        summary = build_dataset_folder(
            folder,
            splits={Path(p).stem: SplitRecord.read(p) for p in smk.input.splits},
            spec=FormatSpec.from_json(smk.params.spec),
            dataset_id=smk.params.dataset_id,
            inputs=InputsSummary.read(smk.input.inputs),
            config=smk.params.config,
            final_path=out_dir,
        )
        write_local_card(folder, CardSettings.from_json(smk.params.card))
    rows = {split: info["rows"] for split, info in summary["splits"].items()}
    BuiltDataset(path=str(out_dir.absolute()), dataset_id=smk.params.dataset_id, rows=rows).write(
        smk.output[0]
    )
    for split, count in rows.items():
        log.info("%s: %d rows", split, count)
    log.info("dataset and its card (README.md) written to %s", out_dir)


run_step(snakemake, main)
