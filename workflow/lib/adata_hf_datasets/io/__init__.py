"""Reading and writing: AnnData chunks, their discovery, and the files passed between steps.

Nothing here knows the pipeline: no step logic, no algorithm (those are in ``core`` and
``steps``). Modules: ``discovery`` (chunks per split at parse time), ``reader`` (a chunk's obs,
obsm, var and X in row blocks), ``zarr_fast`` (direct decoders of local zarr v2 arrays),
``text`` (text columns as Arrow), ``files`` (atomic writes, Arrow and JSON files between steps).
"""
