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
        # without a gene-list key the sentences come from the meta table
        sentence_keys=[] if SETTINGS.needs_expression else list(SETTINGS.sentence_keys),
    script:
        "../scripts/write_shard.py"


rule build_dataset:
    input:
        unpack(get_dataset_inputs),
    output:
        # the record of the built folder; the folder itself is built beside the previous one
        # and swapped in when complete, never deleted by Snakemake before a rebuild
        built=BUILT_RECORD,
        # copies of what the dataset folder holds, for `snakemake --report report.html`
        quality_plot=report(
            f"results/report/{NAME}/negative_quality.svg",
            caption="../report/negative_quality.rst",
            category="Dataset",
            labels={"figure": "negative quality"},
        ),
        summary_table=report(
            f"results/report/{NAME}/summary.html",
            caption="../report/summary.rst",
            category="Dataset",
            labels={"figure": "summary"},
        ),
    log:
        f"logs/build_dataset/{NAME}.log",
    localrule: True
    conda:
        "../../envs/adata-hf-datasets.yaml"
    params:
        out=OUTPUT_PATH,
        splits=SPLITS,
        spec=SETTINGS.format_spec().to_json(),
        dataset_id=SETTINGS.dataset_id,
        config=SETTINGS.recorded_config(),
        card=SETTINGS.card_settings().to_json(),
        # error: fail here (before the dataset is replaced), naming chunks and cells
        on_empty_sentence=(
            SETTINGS.on_empty_sentence if SETTINGS.needs_expression else "keep"
        ),
    script:
        "../scripts/build_dataset.py"
