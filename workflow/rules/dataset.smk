rule write_shard:
    input:
        unpack(get_shard_inputs),
    output:
        shard=f"results/shards/{NAME}/{{split}}/{{chunk}}.arrow",
        stats=f"results/shards/{NAME}/{{split}}/{{chunk}}.json",
    log:
        f"logs/write_shard/{NAME}/{{split}}/{{chunk}}.log",
    benchmark:
        f"benchmarks/write_shard/{NAME}/{{split}}/{{chunk}}.tsv"
    conda:
        "../../envs/adata-hf-datasets.yaml"
    resources:
        mem_mb=mem_mb_for(
            base=2000, sentences=2000, index=2000, negatives=4000, meta=8000
        ),
        runtime=runtime_for(base=10, sentences=10, index=10),
    params:
        spec=SETTINGS.format_spec().to_json(),
        link=get_adata_link,
    script:
        "../scripts/write_shard.py"


rule assemble_split:
    input:
        unpack(get_split_shards),
        info=f"results/index/{NAME}/{{split}}.json",
    output:
        f"results/splits/{NAME}/{{split}}.json",
    log:
        f"logs/assemble_split/{NAME}/{{split}}.log",
    localrule: True
    conda:
        "../../envs/adata-hf-datasets.yaml"
    script:
        "../scripts/assemble_split.py"


rule build_dataset:
    input:
        splits=expand(f"results/splits/{NAME}/{{split}}.json", split=SPLITS),
        inputs=f"results/validate/{NAME}/inputs_ok.json",
    output:
        summary=f"{OUTPUT_PATH}/summary.json",
        card=f"{OUTPUT_PATH}/README.md",
    log:
        f"logs/build_dataset/{NAME}.log",
    localrule: True
    conda:
        "../../envs/adata-hf-datasets.yaml"
    params:
        spec=SETTINGS.format_spec().to_json(),
        dataset_id=SETTINGS.dataset_id,
        config=config,
        card=SETTINGS.card_settings().to_json(),
    script:
        "../scripts/build_dataset.py"
