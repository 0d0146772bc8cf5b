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
