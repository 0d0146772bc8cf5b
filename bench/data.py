"""The benchmark's data: synthetic chunks (``tests.support.synthetic``), and chunks whose X is
poisoned, so that any read of X raises."""

from __future__ import annotations

import shutil
from pathlib import Path


def recipe_for(cells, genes, nnz, captions, batches, prefix, seed):
    """A chunk of ``cells`` x ``genes``; ``captions`` is a count or ``"unique"``."""
    from tests.support.synthetic import ChunkRecipe

    return ChunkRecipe(
        n_cells=cells,
        n_genes=genes,
        nnz_per_cell=nnz,
        n_captions=None if captions == "unique" else int(captions),
        n_batches=batches,
        n_cell_types=8,
        obsm={"X_pca": 32},
        id_prefix=prefix,
        seed=seed,
    )


def write_data(root: Path, recipes: list) -> list[Path]:
    """``root/train/chunk_{i}.zarr``, one per recipe (skipped when already written)."""
    from tests.support.synthetic import write_chunk

    paths = []
    for i, recipe in enumerate(recipes):
        path = root / "train" / f"chunk_{i}.zarr"
        stamp = path / ".bench-recipe"
        if not (stamp.exists() and stamp.read_text() == repr(recipe)):
            shutil.rmtree(path, ignore_errors=True)
            write_chunk(path, recipe)
            stamp.write_text(repr(recipe))
        paths.append(path)
    return paths


def write_poisoned_data(root: Path, recipes: list) -> list[Path]:
    """``write_data``, then X's data chunk files overwritten (once): any read of X raises."""
    paths = write_data(root, recipes)
    for path in paths:
        if not (path / ".bench-poisoned").exists():
            poison_matrix(path)
            (path / ".bench-poisoned").write_text("X data chunks overwritten")
    assert_poisoned(paths[0])
    return paths


def poison_matrix(chunk: Path) -> int:
    """Overwrite X's data chunk files with garbage: any read of X then raises.

    (Deleting them would not do: zarr reads a missing chunk as zeros.)
    """
    poisoned = 0
    for name in ("data", "indices"):
        for path in (chunk / "X" / name).iterdir():
            if not path.name.startswith("."):
                path.write_bytes(b"poison: the benchmark proves X is never read")
                poisoned += 1
    return poisoned


def assert_poisoned(chunk: Path) -> None:
    from adata_hf_datasets.io.reader import ChunkReader

    with ChunkReader(chunk) as reader:
        try:
            next(reader.row_blocks("X", block_size=10))
        except Exception:
            return
    raise AssertionError(f"{chunk}: X is still readable after poisoning")
