# Cell sentences with gene lists; sentence keys without (ids, obs columns) come from the
# validation's meta tables, so those configs run no sentence job at all.
if SETTINGS.needs_expression:

    rule cell_sentences:
        input:
            unpack(get_sentence_inputs),
        output:
            sentences=f"results/sentences/{NAME}/{{split}}/{{chunk}}.arrow",
            stats=f"results/sentences/{NAME}/{{split}}/{{chunk}}.json",
        log:
            f"logs/cell_sentences/{NAME}/{{split}}/{{chunk}}.log",
        benchmark:
            f"benchmarks/cell_sentences/{NAME}/{{split}}/{{chunk}}.tsv"
        conda:
            "../../envs/adata-hf-datasets.yaml"
        resources:
            mem_mb=mem_mb_for(base=2000, chunk=1000),
            runtime=runtime_for(base=10, chunk=10),
            # rows of X read at once: memory, not results (a param would rerun the jobs)
            row_block_size=SETTINGS.row_block_size,
        params:
            spec=SETTINGS.sentence_spec().to_json(),
        script:
            "../scripts/cell_sentences.py"
