rule index_split_embedding:
    input:
        index=f"results/index/{NAME}/{{split}}.arrow",
        pool=f"results/negative_pool/{NAME}/{{split}}.arrow",
        # the embedding and annotation are read from the chunks
        chunks=lambda wildcards: [str(c.path) for c in CHUNKS[wildcards.split]],
    output:
        **EMBEDDING_FILES,
    log:
        f"logs/index_split_embedding/{NAME}/{{split}}.log",
    benchmark:
        f"benchmarks/index_split_embedding/{NAME}/{{split}}.tsv"
    conda:
        "../../envs/adata-hf-datasets.yaml"
    resources:
        # vectors of the split (float32) are written through mapped files, one chunk read at a
        # time; the clustering samples at most 131,072 of them
        mem_mb=mem_mb_for(base=1500, pool=2000),
        runtime=runtime_for(base=10, pool=30, chunks=2),
    params:
        chunks=lambda wildcards: [
            [c.name, str(c.path)] for c in CHUNKS[wildcards.split]
        ],
        key=SETTINGS.quality_embedding,
        annotation_key=SETTINGS.annotation_key,
        mining=SETTINGS.hard_negatives is not None,
        seed=SETTINGS.seed,
    script:
        "../scripts/index_split_embedding.py"


rule sample_negatives:
    input:
        unpack(get_negatives_inputs),
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
        # the pool is mapped (all of it is touched), the index only where the chunk is; when
        # mining, the split's vectors are mapped too (the lists an anchor searches)
        mem_mb=mem_mb_for(base=1000, pool=2000, vectors=1000),
        runtime=runtime_for(base=10, pool=10),
    params:
        k=SETTINGS.negatives_per_sample,
        seed=SETTINGS.seed,
        # pairs: every negative brings a caption new to its row (one row per negative)
        distinct_captions=SETTINGS.dataset_format == "pairs",
        mining=(
            SETTINGS.hard_negatives.to_json()
            if SETTINGS.hard_negatives is not None
            else None
        ),
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
        # the split's vectors are mapped (all of them touched)
        mem_mb=mem_mb_for(base=1000, pool=2000, vectors=1000),
        runtime=runtime_for(base=10, pool=20),
    params:
        chunks=lambda wildcards: [c.name for c in CHUNKS[wildcards.split]],
        k=SETTINGS.negatives_per_sample,
        seed=SETTINGS.seed,
        all_caption_negatives=SETTINGS.dataset_format == "pairs",
        mined=SETTINGS.hard_negatives is not None,
    script:
        "../scripts/measure_negative_quality.py"
