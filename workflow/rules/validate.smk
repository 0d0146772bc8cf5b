rule validate_chunk:
    input:
        chunk=get_chunk_path,
    output:
        meta=f"results/validate/{NAME}/{{split}}/{{chunk}}.arrow",
        report=f"results/validate/{NAME}/{{split}}/{{chunk}}.json",
    log:
        f"logs/validate_chunk/{NAME}/{{split}}/{{chunk}}.log",
    conda:
        "../../envs/adata-hf-datasets.yaml"
    resources:
        mem_mb=mem_mb_for(base=1000, chunk=200),
        runtime=runtime_for(base=10, chunk=2),
    params:
        spec=SETTINGS.inspection_spec().to_json(),
    script:
        "../scripts/validate_chunk.py"


rule check_inputs:
    input:
        unpack(get_all_inspections),
    output:
        f"results/validate/{NAME}/inputs_ok.json",
    log:
        f"logs/check_inputs/{NAME}.log",
    retries: 0
    localrule: True
    conda:
        "../../envs/adata-hf-datasets.yaml"
    params:
        splits={s: [c.name for c in CHUNKS[s]] for s in SPLITS},
        rules=SETTINGS.input_rules().to_json(),
    script:
        "../scripts/check_inputs.py"


if SETTINGS.needs_similarity:

    rule similar_annotations:
        input:
            reports=lambda wildcards: get_split_inspections(wildcards)["reports"],
            ok=INPUTS_OK,
        output:
            f"results/index/{NAME}/{{split}}.similar.json",
        log:
            f"logs/similar_annotations/{NAME}/{{split}}.log",
        localrule: True
        conda:
            "../../envs/adata-hf-datasets.yaml"
        script:
            "../scripts/similar_annotations.py"


rule split_index:
    input:
        unpack(get_split_index_inputs),
    output:
        index=f"results/index/{NAME}/{{split}}.arrow",
        info=f"results/index/{NAME}/{{split}}.json",
        pool=f"results/negative_pool/{NAME}/{{split}}.arrow",
    log:
        f"logs/split_index/{NAME}/{{split}}.log",
    benchmark:
        f"benchmarks/split_index/{NAME}/{{split}}.tsv"
    conda:
        "../../envs/adata-hf-datasets.yaml"
    resources:
        mem_mb=mem_mb_for(base=1000, metas=4000),
        runtime=runtime_for(base=10, metas=10),
    params:
        chunks=lambda wildcards: [c.name for c in CHUNKS[wildcards.split]],
        needs_captions=SETTINGS.uses_captions,
    script:
        "../scripts/split_index.py"
