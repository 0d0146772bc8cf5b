# Hub push: one local job after the dataset is complete. The chosen repo id is recorded
# outside Snakemake's outputs, so a rerun after a failed push continues in the same repo.
if SETTINGS.push_to_hub:

    rule push_to_hub:
        input:
            BUILT_RECORD,
        output:
            f"results/hub/{NAME}/pushed.json",
        log:
            f"logs/push_to_hub/{NAME}.log",
        localrule: True
        conda:
            "../../envs/adata-hf-datasets.yaml"
        params:
            card=SETTINGS.card_settings().to_json(),
            private=SETTINGS.private,
            new_version=SETTINGS.new_version,
            record=f"results/hub/{NAME}/repo_record.json",
            work_dir=f"results/hub/{NAME}/staging",
        script:
            "../scripts/push_to_hub.py"
