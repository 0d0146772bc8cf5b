"""Synthetic AnnData chunks with the shape of real processed data, for tests and benchmarks.

Count-like values with many ties, gene symbols in ``var["gene_name"]``, captions, batches and
an obsm embedding; every knob is explicit so a test or a benchmark states what it measures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp


@dataclass(frozen=True)
class ChunkRecipe:
    """What one synthetic chunk looks like.

    ``n_captions=None`` gives every cell its own caption; ``n_batches`` pseudo-batches are
    assigned at random; ``id_prefix`` makes obs names unique across chunks.
    """

    n_cells: int = 200
    n_genes: int = 300
    nnz_per_cell: int = 40
    n_captions: int | None = 5
    n_batches: int = 2
    n_cell_types: int = 4
    obsm: dict[str, int] = field(default_factory=lambda: {"X_pca": 8})
    id_prefix: str = "cell"
    dense: bool = False
    highly_variable: bool = False
    seed: int = 0


def make_adata(recipe: ChunkRecipe):
    """Build the in-memory AnnData of a recipe."""
    import anndata as ad

    rng = np.random.default_rng(recipe.seed)
    n, g = recipe.n_cells, recipe.n_genes
    nnz = min(recipe.nnz_per_cell, g)
    # Per cell: nnz distinct genes (sorted), small integer counts -> many ties.
    cols = np.argsort(rng.random((n, g)), axis=1)[:, :nnz] if n * g <= 5e7 else _sample_cols(rng, n, g, nnz)
    cols.sort(axis=1)
    data = rng.geometric(0.35, size=(n, nnz)).astype(np.float32)
    indptr = np.arange(0, n * nnz + 1, nnz, dtype=np.int64)
    X = sp.csr_matrix((data.ravel(), cols.ravel().astype(np.int32), indptr), shape=(n, g))
    cell_types = np.array([f"type_{i}" for i in range(recipe.n_cell_types)])
    cell_type = cell_types[rng.integers(0, recipe.n_cell_types, n)]
    if recipe.n_captions is None:
        captions = [f"cell {recipe.id_prefix}_{i} is a unique {t}" for i, t in enumerate(cell_type)]
    else:
        pool = [f"a cell of kind {i} from tissue {i % 3}" for i in range(recipe.n_captions)]
        captions = [pool[i] for i in rng.integers(0, recipe.n_captions, n)]
    obs = pd.DataFrame(
        {
            "caption": captions,
            "batch": [f"batch_{b}" for b in rng.integers(0, recipe.n_batches, n)],
            "cell_type": pd.Categorical(cell_type),
        },
        index=[f"{recipe.id_prefix}_{i}" for i in range(n)],
    )
    var = pd.DataFrame(
        {"gene_name": [f"GENE{j}" for j in range(g)]}, index=[f"ENSG{j:011d}" for j in range(g)]
    )
    if recipe.highly_variable:
        # var is the same in every chunk of a dataset, as after real preprocessing
        var["highly_variable"] = np.random.default_rng(g).random(g) < 0.5
    obsm = {key: rng.normal(size=(n, dim)).astype(np.float32) for key, dim in recipe.obsm.items()}
    return ad.AnnData(X=X.toarray() if recipe.dense else X, obs=obs, var=var, obsm=obsm)


def _sample_cols(rng: np.random.Generator, n: int, g: int, nnz: int) -> np.ndarray:
    """Distinct gene positions per cell without an n x g temporary (large benchmarks)."""
    out = np.empty((n, nnz), dtype=np.int64)
    step = max(1, int(2e7 // g))
    for start in range(0, n, step):
        stop = min(start + step, n)
        out[start:stop] = np.argsort(rng.random((stop - start, g)), axis=1)[:, :nnz]
    return out


def write_chunk(path: Path, recipe: ChunkRecipe) -> Path:
    """Write a recipe as ``.zarr`` or ``.h5ad`` (by the path's suffix)."""
    import warnings

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    adata = make_adata(recipe)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if path.suffix == ".h5ad":
            adata.write_h5ad(path)
        else:
            adata.write_zarr(path)
    return path


def write_dataset(
    data_dir: Path, layout: dict[str, list[ChunkRecipe]], *, suffix: str = ".zarr"
) -> dict[str, list[Path]]:
    """Write ``{data_dir}/{split}/chunk_{i}{suffix}`` for each split's recipes."""
    written: dict[str, list[Path]] = {}
    for split, recipes in layout.items():
        written[split] = [
            write_chunk(Path(data_dir) / split / f"chunk_{i}{suffix}", recipe)
            for i, recipe in enumerate(recipes)
        ]
    return written
