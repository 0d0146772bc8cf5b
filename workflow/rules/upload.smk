# Nextcloud upload: one local job per chunk (compute nodes often have no internet). It depends
# only on the chunk and the Nextcloud settings, so editing anything else uploads nothing.
# The receipt lives outside Snakemake's outputs, so it survives reruns (skip unchanged files,
# reuse links).
if SETTINGS.use_nextcloud:

    rule upload_chunk:
        input:
            chunk=get_chunk_path,
        output:
            f"results/upload/{NAME}/{{split}}/{{chunk}}.json",
        log:
            f"logs/upload_chunk/{NAME}/{{split}}/{{chunk}}.log",
        localrule: True
        conda:
            "../../envs/adata-hf-datasets.yaml"
        params:
            settings=nextcloud_settings(),
            dataset_name=NAME,
            receipt=f"results/nextcloud_receipts/{NAME}/{{split}}/{{chunk}}.json",
            work_dir=f"results/upload/{NAME}/tmp",
        script:
            "../scripts/upload_chunk.py"
