"""One module per workflow step: read the step's inputs with ``io``, call ``core``, write the
outputs and a typed record (``records``). The ``script:`` files of the rules call these.

``validate`` (validate_chunk, check_inputs), ``split_index``, ``sentences`` (cell_sentences),
``negatives`` (sample_negatives), ``shard`` (write_shard), ``assemble`` (build_dataset:
each split's record, the dataset folder, and reading it back), ``runtime`` (logging, clear failures).
"""
