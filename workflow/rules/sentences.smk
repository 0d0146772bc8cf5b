rule cell_sentences:
    input:
        unpack(get_sentence_inputs),
    output:
        f"results/sentences/{NAME}/{{split}}/{{chunk}}.arrow",
    log:
        f"logs/cell_sentences/{NAME}/{{split}}/{{chunk}}.log",
    benchmark:
        f"benchmarks/cell_sentences/{NAME}/{{split}}/{{chunk}}.tsv"
    conda:
        "../../envs/adata-hf-datasets.yaml"
    resources:
        mem_mb=chunk_mem_mb(base=1000, per_gb=300),
        runtime=chunk_runtime(base=10, per_gb=10),
    params:
        spec=sentence_spec(),
    script:
        "../scripts/cell_sentences.py"
