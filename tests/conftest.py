from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest

from adata_hf_datasets.core.naming import dataset_id
from tests.support.synthetic import ChunkRecipe, write_dataset

from .snakemake_runner import RunResult, run_workflow

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(condition: bool, reason: str) -> None:
    """Skip with ``reason`` on a user's machine; fail in CI, where everything must run."""
    if not condition:
        if IN_CI:
            pytest.fail(f"required in CI: {reason}")
        pytest.skip(reason)


BASE_CONFIG = {
    "dataset": {"name": "toy"},
    "batch_key": "batch",
    "annotation_key": "cell_type",
    "caption_key": "caption",
    "dataset_creation": {
        "dataset_format": "multiplets",
        "sentence_keys": ["sample_id_og"],
        "negatives_per_sample": 2,
        "required_obsm_keys": ["X_pca"],
        "output_dir": "out",
    },
}


class Project:
    """A working directory plus a data folder of synthetic chunks."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data_dir = root / "data"
        self.workdir = root / "work"
        self.workdir.mkdir(parents=True, exist_ok=True)

    def write(self, layout: dict[str, list[ChunkRecipe]], *, suffix: str = ".zarr") -> dict:
        return write_dataset(self.data_dir, layout, suffix=suffix)

    def config(self, **creation) -> dict:
        config = copy.deepcopy(BASE_CONFIG)
        config["dataset_creation"]["data_dir"] = str(self.data_dir)
        for key, value in creation.items():
            if key in ("batch_key", "annotation_key", "caption_key", "dataset"):
                config[key] = value
            else:
                config["dataset_creation"][key] = value
        return config

    def output_path(self, config: dict) -> Path:
        creation = config["dataset_creation"]
        name = dataset_id(
            config["dataset"]["name"],
            creation.get("dataset_format", "multiplets"),
            config.get("caption_key"),
        )
        return self.workdir / creation["output_dir"] / name

    def run(self, config: dict, **kwargs) -> RunResult:
        return run_workflow(self.workdir, config, **kwargs)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)


def two_split_layout(**overrides) -> dict[str, list[ChunkRecipe]]:
    """train: 2 chunks, val: 1 chunk, unique ids per chunk."""

    def recipe(prefix: str, seed: int) -> ChunkRecipe:
        return ChunkRecipe(**{"n_cells": 120, "id_prefix": prefix, "seed": seed, **overrides})

    return {
        "train": [recipe("tr0", 1), recipe("tr1", 2)],
        "val": [recipe("va0", 3)],
    }
