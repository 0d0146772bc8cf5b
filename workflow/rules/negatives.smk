rule sample_negatives:
    input:
        index=f"results/index/{NAME}/{{split}}.arrow",
        pool=f"results/negative_pool/{NAME}/{{split}}.arrow",
    output:
        negatives=f"results/negatives/{NAME}/{{split}}/{{chunk}}.arrow",
        counts=f"results/negatives/{NAME}/{{split}}/{{chunk}}.json",
    log:
        f"logs/sample_negatives/{NAME}/{{split}}/{{chunk}}.log",
    benchmark:
        f"benchmarks/sample_negatives/{NAME}/{{split}}/{{chunk}}.tsv"
    conda:
        "../../envs/adata-hf-datasets.yaml"
    resources:
        # the pool is mapped (all of it is touched), the index only where the chunk is
        mem_mb=mem_mb_for(base=1000, pool=2000),
        runtime=runtime_for(base=10, pool=10),
    params:
        k=SETTINGS.negatives_per_sample,
        seed=SETTINGS.seed,
        # pairs: every negative brings a caption new to its row (one row per negative)
        distinct_captions=SETTINGS.dataset_format == "pairs",
    script:
        "../scripts/sample_negatives.py"


rule measure_negative_quality:
    input:
        unpack(get_negative_quality_inputs),
    output:
        f"results/negative_quality/{NAME}/{{split}}.json",
    log:
        f"logs/measure_negative_quality/{NAME}/{{split}}.log",
    benchmark:
        f"benchmarks/measure_negative_quality/{NAME}/{{split}}.tsv"
    conda:
        "../../envs/adata-hf-datasets.yaml"
    resources:
        # the split's unit vectors are a mapped scratch file (about 2.5x the pool file at 50-d)
        mem_mb=mem_mb_for(base=1000, pool=4000),
        runtime=runtime_for(base=10, pool=20),
    params:
        chunks=lambda wildcards: [
            [c.name, str(c.path)] for c in CHUNKS[wildcards.split]
        ],
        k=SETTINGS.negatives_per_sample,
        seed=SETTINGS.seed,
        embedding=SETTINGS.quality_embedding,
        annotation_key=SETTINGS.annotation_key,
        all_caption_negatives=SETTINGS.dataset_format == "pairs",
    script:
        "../scripts/measure_negative_quality.py"
