"""The benchmark of adata-hf-datasets; run it with ``python bench/run_bench.py`` (see there)."""
