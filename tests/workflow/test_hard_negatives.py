"""Mined caption negatives through the workflow: harder than random ones, eligible, counted and
explained; the same bytes whatever the number of cores and BLAS threads; and the same rows
from the Python API."""

from __future__ import annotations

import json

import anndata as ad
import datasets
import numpy as np
import pytest

from adata_hf_datasets.dataset import AnnDataSetConstructor

from ..conftest import two_split_layout

pytestmark = pytest.mark.workflow

MINING = {"enabled": True, "range_max": 10}


def _arrow_files(project, config) -> dict:
    out = project.output_path(config)
    return {p.relative_to(out): p.read_bytes() for p in out.rglob("*.arrow")}


def test_mined_negatives_are_harder_eligible_and_the_same_whatever_cores_and_threads(
    project, tmp_path, monkeypatch
):
    paths = project.write(two_split_layout())
    config = project.config(negatives_per_sample=2, hard_negatives=MINING)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    result = project.run(config, cores=1)
    assert result.ok, result.logs
    out = project.output_path(config)
    summary = json.loads((out / "summary.json").read_text())
    built = datasets.load_from_disk(str(out))

    for split in ("train", "val"):
        levels = summary["splits"][split]["negative_levels"]
        rows = built[split].num_rows
        assert levels["mined_same_batch"] + levels["mined_other_batch"] > 0.9 * rows
        quality = summary["negative_quality"][split]
        mined, sentence = quality["negative_1_idx"], quality["negative_2_idx"]
        assert mined["mined"] is True and sentence["mined"] is False
        baseline = quality["baseline_same_batch_other_caption"]
        assert mined["mean_similarity"] > baseline["mean_similarity"] + 0.2
        assert mined["same_caption_fraction"] == 0
        assert mined["same_annotation_fraction"] == 0  # the guard: annotation_key cell_type
        frame = built[split].to_pandas()
        obs = {}
        for path in paths[split]:
            chunk = ad.read_zarr(path)
            obs.update(zip(chunk.obs_names, chunk.obs["cell_type"].astype(str), strict=True))
        assert all(
            obs[a] != obs[n]
            for a, n in zip(frame["sample_idx"], frame["negative_1_idx"], strict=True)
        )
    card = (out / "README.md").read_text()
    assert "The caption negatives are mined" in card and '`obsm["X_pca"]`' in card

    # The Python API gives the same rows.
    for split, chunk_paths in paths.items():
        constructor = AnnDataSetConstructor(
            "multiplets",
            negatives_per_sample=2,
            seed=config["dataset_creation"].get("seed", 42),
            split=split,
            hard_negatives={"obsm_key": "X_pca", "range_max": 10},
        )
        for path in chunk_paths:
            constructor.add_anndata(
                ad.read_zarr(path),
                ["sample_id_og"],
                caption_key="caption",
                batch_key="batch",
                adata_link=str(path),
                annotation_key="cell_type",
            )
        api = constructor.get_dataset().to_pandas()
        assert api.equals(built[split].to_pandas()), split

    # Another working directory, 2 cores, 2 BLAS threads: byte for byte the same shards.
    other = type(project)(tmp_path / "second")
    other.data_dir = project.data_dir
    config2 = other.config(negatives_per_sample=2, hard_negatives=MINING)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    assert other.run(config2, cores=2).ok
    first, second = _arrow_files(project, config), _arrow_files(other, config2)
    assert first.keys() == second.keys() and first == second
    # and the unmined dataset's quality is what the mined one is compared with
    assert np.isfinite(
        summary["negative_quality"]["train"]["positive_reference"]["mean_similarity"]
    )
