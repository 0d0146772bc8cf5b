"""The bundled example (real PBMCs) builds as `make run` builds it."""

from __future__ import annotations

import datasets
import pytest
import yaml

from ..snakemake_runner import REPO, run_workflow

pytestmark = pytest.mark.workflow


def test_bundled_example_builds(tmp_path):
    config = yaml.safe_load((REPO / "config" / "example.yaml").read_text())
    config["base_file_path"] = str(REPO / config["base_file_path"])
    result = run_workflow(tmp_path, config)
    assert result.ok, result.logs
    out = tmp_path / "data/hf_datasets/pbmc68k_reduced_multiplets_natural_language_annotation"
    dataset = datasets.load_from_disk(str(out))
    assert {s: dataset[s].num_rows for s in dataset} == {"train": 560, "val": 140}
    row = dataset["train"][0]
    assert row["sample_idx"] == row["cell_sentence_1"]
    genes = row["cell_sentence_2"].split()
    assert 0 < len(genes) <= 64 and len(set(genes)) == len(genes)
    assert (out / "README.md").read_text().startswith("---\n")
