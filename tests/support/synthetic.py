"""Synthetic AnnData chunks with the shape of real processed data, for tests and benchmarks.

Count-like values with many ties, gene symbols in ``var["gene_name"]``, captions, batches and
an obsm embedding; every knob is explicit so a test or a benchmark states what it measures.

Small recipes (``n_cells * n_genes <= 5e7``) draw everything from one random stream, as the
tests have always seen them. Large recipes (benchmarks: 50,000-200,000 cells of 20,000 genes)
are generated in row blocks with vectorised draws: each cell's genes are one random gene per
stratum of ``n_genes / nnz_per_cell`` consecutive genes (distinct and sorted by construction),
counts come from a geometric table lookup. ``write_chunk`` writes such a recipe to ``.zarr``
block by block (anndata's layout and codec, flat memory); ``make_adata`` of the same recipe
gives the same values.
"""

from __future__ import annotations

from collections.abc import Iterator
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

    n, g = recipe.n_cells, recipe.n_genes
    if _is_large(recipe):
        blocks = [block for _, block in _large_x_blocks(recipe)]
        X = sp.vstack(blocks, format="csr") if blocks else sp.csr_matrix((0, g), dtype=np.float32)
        obs, var, obsm = _large_annotations(recipe)
        return ad.AnnData(X=X.toarray() if recipe.dense else X, obs=obs, var=var, obsm=obsm)

    rng = np.random.default_rng(recipe.seed)
    nnz = min(recipe.nnz_per_cell, g)
    # Per cell: nnz distinct genes (sorted), small integer counts -> many ties.
    cols = np.argsort(rng.random((n, g)), axis=1)[:, :nnz]
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


# Recipes with more matrix entries than this take the block-wise generator.
_LARGE_ENTRIES = 5e7
# Rows generated (and written) at a time by the block-wise generator; fixed, so that the
# values do not depend on how a recipe is consumed.
_GENERATION_BLOCK_ROWS = 8192
_GEOMETRIC_P = 0.35


def _is_large(recipe: ChunkRecipe) -> bool:
    return recipe.n_cells * recipe.n_genes > _LARGE_ENTRIES


def _geometric_table() -> np.ndarray:
    """Geometric(p) quantiles on a 16-bit grid: ``table[u16]`` draws a count (1, 2, ...)."""
    q = (np.arange(1 << 16) + 0.5) / (1 << 16)
    return (np.floor(np.log1p(-q) / np.log1p(-_GEOMETRIC_P)) + 1).astype(np.float32)


def _large_x_blocks(recipe: ChunkRecipe) -> Iterator[tuple[int, sp.csr_matrix]]:
    """Yield ``(first row, CSR block)`` of a large recipe, a fixed number of rows at a time.

    Each cell has exactly ``min(nnz_per_cell, n_genes)`` nonzeros: one gene drawn uniformly
    in each of that many strata of consecutive genes, so the columns are distinct and sorted
    without a per-row sort. Block ``b`` draws from its own stream ``(seed, 1, b)``.
    """
    n, g = recipe.n_cells, recipe.n_genes
    nnz = min(recipe.nnz_per_cell, g)
    base = ((np.arange(nnz, dtype=np.int64) * g) // nnz).astype(np.int32)
    width = np.diff(np.append(base, g)).astype(np.uint32)
    table = _geometric_table()
    for b, start in enumerate(range(0, n, _GENERATION_BLOCK_ROWS)):
        rows = min(_GENERATION_BLOCK_ROWS, n - start)
        rng = np.random.default_rng([recipe.seed, 1, b])
        u = rng.integers(0, 1 << 16, size=(rows, nnz), dtype=np.uint16)
        cols = ((u * width) >> np.uint32(16)).view(np.int32)  # < width: inside the stratum
        cols += base
        data = table[rng.integers(0, 1 << 16, size=rows * nnz, dtype=np.uint16)]
        indptr = np.arange(0, rows * nnz + 1, nnz, dtype=np.int64)
        yield start, sp.csr_matrix((data, cols.ravel(), indptr), shape=(rows, g))


def _large_annotations(recipe: ChunkRecipe) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """obs, var and obsm of a large recipe (stream ``(seed, 2)``, vectorised)."""
    rng = np.random.default_rng([recipe.seed, 2])
    n, g = recipe.n_cells, recipe.n_genes
    type_names = [f"type_{i}" for i in range(recipe.n_cell_types)]
    type_codes = rng.integers(0, recipe.n_cell_types, n)
    ids = np.char.add(f"{recipe.id_prefix}_", np.arange(n).astype(str))
    if recipe.n_captions is None:
        phrases = np.char.add(" is a unique ", np.array(type_names))[type_codes]
        captions = np.char.add(np.char.add("cell ", ids), phrases).astype(object)
    else:
        pool = [f"a cell of kind {i} from tissue {i % 3}" for i in range(recipe.n_captions)]
        captions = pd.Categorical.from_codes(rng.integers(0, recipe.n_captions, n), pool)
    batches = pd.Categorical.from_codes(
        rng.integers(0, recipe.n_batches, n), [f"batch_{b}" for b in range(recipe.n_batches)]
    )
    obs = pd.DataFrame(
        {
            "caption": captions,
            "batch": batches,
            "cell_type": pd.Categorical.from_codes(type_codes, type_names),
        },
        index=pd.Index(ids.astype(object)),
    )
    var = pd.DataFrame(
        {"gene_name": [f"GENE{j}" for j in range(g)]}, index=[f"ENSG{j:011d}" for j in range(g)]
    )
    if recipe.highly_variable:
        var["highly_variable"] = np.random.default_rng(g).random(g) < 0.5
    obsm = {
        key: rng.standard_normal(size=(n, dim), dtype=np.float32)
        for key, dim in recipe.obsm.items()
    }
    return obs, var, obsm


def _write_large_zarr(path: Path, recipe: ChunkRecipe) -> None:
    """Write a large sparse recipe to ``.zarr`` block by block (anndata's layout, flat memory)."""
    import anndata as ad
    import numcodecs
    import zarr
    from zarr.core.chunk_grids import _guess_chunks

    obs, var, obsm = _large_annotations(recipe)
    ad.AnnData(obs=obs, var=var, obsm=obsm, shape=(recipe.n_cells, recipe.n_genes)).write_zarr(path)
    n, g = recipe.n_cells, recipe.n_genes
    nnz = min(recipe.nnz_per_cell, g)
    total = n * nnz
    root = zarr.open_group(str(path), mode="a")
    group = root.create_group("X", overwrite=True)
    group.attrs.update(
        {"shape": [n, g], "encoding-type": "csr_matrix", "encoding-version": "0.1.0"}
    )
    # The chunking and codec anndata gives a matrix written in one go.
    codec = numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)
    indptr_dtype = np.dtype(np.int64 if total > np.iinfo(np.int32).max else np.int32)
    arrays = {}
    for name, dtype, length in (
        ("data", np.dtype(np.float32), total),
        ("indices", np.dtype(np.int32), total),
        ("indptr", indptr_dtype, n + 1),
    ):
        arrays[name] = group.create_array(
            name,
            shape=(length,),
            chunks=_guess_chunks((length,), dtype.itemsize),
            dtype=dtype,
            compressors=codec,
            fill_value=0,
        )
    arrays["indptr"][:] = np.arange(0, total + 1, nnz, dtype=indptr_dtype)
    for start, block in _large_x_blocks(recipe):
        lo, hi = start * nnz, (start + block.shape[0]) * nnz
        arrays["data"][lo:hi] = block.data
        arrays["indices"][lo:hi] = block.indices
    zarr.consolidate_metadata(str(path))  # anndata wrote consolidated metadata without X


def write_chunk(path: Path, recipe: ChunkRecipe) -> Path:
    """Write a recipe as ``.zarr`` or ``.h5ad`` (by the path's suffix)."""
    import warnings

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix != ".h5ad" and _is_large(recipe) and not recipe.dense:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _write_large_zarr(path, recipe)
        return path
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
