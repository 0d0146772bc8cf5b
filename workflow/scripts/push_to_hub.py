"""push_to_hub: publish the built dataset and its card to the Hugging Face Hub."""

from pathlib import Path

import _package  # noqa: F401  (this checkout's package before any installed one)

from adata_hf_datasets.io.files import write_json
from adata_hf_datasets.publish.card import template_path
from adata_hf_datasets.publish.card_variables import dataset_card_variables
from adata_hf_datasets.publish.hub import push_dataset
from adata_hf_datasets.records import BuiltDataset, CardSettings
from adata_hf_datasets.steps.assemble import read_local_dataset
from adata_hf_datasets.steps.runtime import run_step


def main(smk, log):
    card = CardSettings.from_json(smk.params.card)
    dataset_dir = Path(BuiltDataset.read(smk.input[0]).path)
    local = read_local_dataset(dataset_dir)
    report = push_dataset(
        dataset_dir,
        dataset_name=card.dataset_name,
        dataset_format=card.dataset_format,
        caption_key=card.caption_key,
        base_repo_id=card.base_repo_id,
        record_path=Path(smk.params.record),
        card_variables=dataset_card_variables(local, card, repo_id="<pending>"),
        private=smk.params.private,
        template_path=template_path(card),
        new_version=smk.params.new_version,
        work_dir=Path(smk.params.work_dir),
        log=log,
    )
    write_json(
        smk.output[0],
        {
            "repo_id": report.repo_id,
            "revision": report.revision,
            "commit_url": report.commit_url,
            "url": report.url,
            "files_uploaded": report.files_uploaded,
            "files_skipped": report.files_skipped,
            "bytes_uploaded": report.bytes_uploaded,
        },
    )
    log.info("published %s (%s)", report.repo_id, report.commit_url or "already up to date")


run_step(snakemake, main)
