"""Build the bundled example from real data: scanpy's ``pbmc68k_reduced`` (10x PBMC cells).

Run once (needs scanpy, which ships the file); the chunks it writes are committed, so the
example needs no network and no scanpy:

    python example/make_example.py

Cells: 700 real PBMCs (765 genes). ``X`` is the log-normalised ``raw.X`` (sparse CSR), the
gene symbols are copied to ``var["gene_name"]``, ``obsm`` keeps ``X_pca`` and ``X_umap``.
``cell_type`` is the dataset's ``bulk_labels``; ``natural_language_annotation`` is a caption
made from the cell type and cell-cycle phase; ``dataset_title`` is a SYNTHETIC batch (two
pseudo-donors assigned from the barcode), so batch-aware negatives have something to work on.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import anndata as ad
import numpy as np
import scanpy

OUT = Path(__file__).parent / "data" / "processed_with_emb" / "train" / "pbmc68k_reduced"
CHUNKS = {"train": [(0, 300), (300, 560)], "val": [(560, 700)]}


def caption(cell_type: str, phase: str) -> str:
    return f"A {cell_type} cell from the peripheral blood of a human donor, in cell-cycle phase {phase}."


def main() -> None:
    source = ad.read_h5ad(Path(scanpy.__file__).parent / "datasets" / "10x_pbmc68k_reduced.h5ad")
    raw = source.raw.to_adata()
    adata = ad.AnnData(
        X=raw.X.tocsr().astype(np.float32),
        obs=source.obs[["bulk_labels", "phase", "n_genes", "louvain"]].copy(),
        var=raw.var[[]].copy(),
        obsm={"X_pca": source.obsm["X_pca"], "X_umap": source.obsm["X_umap"]},
    )
    adata.var["gene_name"] = adata.var_names.astype(str)
    adata.var["highly_variable"] = (
        source.var["highly_variable"].reindex(adata.var_names).fillna(False).to_numpy(bool)
    )
    adata.obs["cell_type"] = adata.obs["bulk_labels"].astype(str)
    adata.obs["natural_language_annotation"] = [
        caption(c, p)
        for c, p in zip(adata.obs["cell_type"], adata.obs["phase"].astype(str), strict=True)
    ]
    donor = [int(hashlib.sha256(b.encode()).hexdigest(), 16) % 2 for b in adata.obs_names]
    adata.obs["dataset_title"] = [f"pbmc68k_pseudo_donor_{'AB'[d]}" for d in donor]
    adata.obs = adata.obs.drop(columns=["bulk_labels"])

    if OUT.exists():
        shutil.rmtree(OUT)
    for split, ranges in CHUNKS.items():
        (OUT / split).mkdir(parents=True)
        for i, (start, stop) in enumerate(ranges):
            adata[start:stop].copy().write_zarr(OUT / split / f"chunk_{i}.zarr")
    print(f"wrote {sum(len(r) for r in CHUNKS.values())} chunks under {OUT}")


if __name__ == "__main__":
    main()
