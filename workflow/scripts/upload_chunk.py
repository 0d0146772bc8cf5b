"""upload_chunk: zip one chunk, upload it to Nextcloud, share it; the link goes to adata_link."""

from pathlib import Path

import _package  # noqa: F401  (this checkout's package before any installed one)

from adata_hf_datasets.publish.nextcloud import (
    RequestPolicy,
    default_remote_dir,
    resolve_settings,
    upload_chunk,
)
from adata_hf_datasets.steps.runtime import run_step


def main(smk, log):
    nextcloud = smk.params.settings["nextcloud_config"]
    settings = resolve_settings(nextcloud)  # secrets come from the environment, here only
    receipt = upload_chunk(
        Path(smk.input.chunk),
        settings=settings,
        remote_dir=default_remote_dir(settings, smk.params.dataset_name, smk.wildcards.split),
        receipt_path=Path(smk.params.receipt),
        force=smk.params.settings["force_reupload"],
        work_dir=Path(smk.params.work_dir),
        chunk_threshold=int(nextcloud["chunked_upload_threshold_mb"] * 2**20),
        chunk_size=int(nextcloud["chunk_size_mb"] * 2**20),
        policy=RequestPolicy(
            timeout=float(nextcloud["timeout_s"]), attempts=int(nextcloud["attempts"])
        ),
        log=log,
    )
    receipt.write(Path(smk.output[0]))
    log.info(
        "%s -> %s (%s)",
        smk.input.chunk,
        receipt.link,
        "uploaded" if receipt.uploaded else "unchanged",
    )


run_step(snakemake, main)
