"""Refactors that must not change results prove it: every shard's content is pinned.

A shard's bytes hold ``adata_link``, the chunk's absolute path, which differs between machines,
so the pin is the sha256 of the shard file after that column is rewritten relative to the data
folder (the rest of the file, schema and metadata included, is the shard as written). A change
that alters any sentence, caption, negative, column or feature changes a pin: update the pins
only for a change that is meant to change results, and say so in its commit.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pytest
import yaml

from ..conftest import two_split_layout
from ..snakemake_runner import REPO, run_workflow

pytestmark = pytest.mark.workflow


def shard_digest(shard: Path, data_dir: Path) -> str:
    """sha256 of the shard as an IPC stream, with ``adata_link`` made relative to ``data_dir``."""
    with pa.memory_map(str(shard), "r") as source:
        reader = pa.ipc.open_stream(source)
        schema = reader.schema
        batches = list(reader)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as writer:
        for batch in batches:
            links = [
                str(Path(link).relative_to(data_dir))
                for link in batch.column("adata_link").to_pylist()
            ]
            index = schema.get_field_index("adata_link")
            batch = batch.set_column(index, "adata_link", pa.array(links, pa.string()))
            writer.write_batch(batch)
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


def dataset_digests(out: Path, data_dir: Path) -> dict[str, str]:
    return {
        str(shard.relative_to(out)): shard_digest(shard, data_dir)
        for shard in sorted(out.glob("*/data-*.arrow"))
    }


EXAMPLE_PINS = {
    "train/data-00000-of-00002.arrow": "8498844bedda8d44929fd48450efee3f97171a90cd1d5bed8fc2d369ea020c2e",
    "train/data-00001-of-00002.arrow": "c65c9fd303e0ccae31b054fbf6c8cd7139e50dea89d22c6a7839e5650d208e1f",
    "val/data-00000-of-00001.arrow": "404113097296e8dded02c0560267525a8d183d9b53666945f54c07da1f67ecd6",
}


def test_bundled_example_shards_are_pinned(tmp_path):
    config = yaml.safe_load((REPO / "config" / "example.yaml").read_text())
    data = REPO / config["base_file_path"]
    config["base_file_path"] = str(data)
    result = run_workflow(tmp_path, config)
    assert result.ok, result.logs
    out = tmp_path / "data/hf_datasets/pbmc68k_reduced_multiplets_natural_language_annotation"
    assert dataset_digests(out, data) == EXAMPLE_PINS


GENERATED_PINS = {
    "multiplets": {
        "train/data-00000-of-00002.arrow": "9238f4e42afd7134aed9aef33c8b3985104f664ca82070c6dad3de85351c529d",
        "train/data-00001-of-00002.arrow": "b249feb41ad5dfa7df5e42837f676d406744866988c7e40fdbc9353fdf0d67d4",
        "val/data-00000-of-00001.arrow": "fd51c82e5a61c500bde37cb0ed46fa8a512b515efa11527e9736251ec0eb0dcb",
    },
    # pairs: every negative brings a caption new to its row (k rows per cell), since the
    # reliability issue; the other pins are those of before the layout change
    "pairs": {
        "train/data-00000-of-00002.arrow": "303b57cf418f4179f4f607e506039f778e05c85531659877397ab1e3b22c5358",
        "train/data-00001-of-00002.arrow": "fb8119f400c4ab35eca5cc5e137fba9ad68594b4602c42d9e44108d849aac16a",
        "val/data-00000-of-00001.arrow": "2493b7f3d1b121bc737070368d6cec5bbafc496ac5076057d1d4d251c7627527",
    },
    "resolved": {
        "train/data-00000-of-00002.arrow": "ab9514a7c5178f0525d3705abdcfd60f4de01e0c2f4c6359d0f36683fec6f8e6",
        "train/data-00001-of-00002.arrow": "c5e1fe87a6afcdd4f1237685dd71f3b85b4571673a051026c405783b8a8e1a74",
        "val/data-00000-of-00001.arrow": "0858ad3474b587040826fb17a1d439f422934be6d52e84a026aa07e720d78dfa",
    },
    # pinned with sentence jobs, before they were skipped for keys without gene lists
    "ids": {
        "train/data-00000-of-00002.arrow": "7d01652757367bc162b2ce86fbe5d98dbd281bdb2e5c0c76ee4530f05345b1b3",
        "train/data-00001-of-00002.arrow": "efe59c61e519de7cf556f42b2a9f05b9ea2da62381a6bb81b9df253c5cb60a95",
        "val/data-00000-of-00001.arrow": "1160a649c50f966d297190a28f2c063d8eb25389fb691381b9b234ca640535f2",
    },
    "obs_resolved": {
        "train/data-00000-of-00002.arrow": "3f6034c7632b2965626f6c0e3275fd2a7ee0881e9e48f81141681d2c38c5705c",
        "train/data-00001-of-00002.arrow": "a1aed533e7b6125cb29df66cd6556367d4179b0f7e0e0faca4a547b10f6fe1c2",
        "val/data-00000-of-00001.arrow": "a68c2653dd6d27b826770763140de55dbdfe282a0eda517b2828ac4821eef725",
    },
    "single": {
        "train/data-00000-of-00002.arrow": "003e8fc6deabaa28d0dcdc40b2690044ec0d9f7b4da37a1fcce086c13809010a",
        "train/data-00001-of-00002.arrow": "b543fc3ed9fd0b09130e3ad2895850ca4d0c52a3d931fd17a07db5695c9e0c03",
        "val/data-00000-of-00001.arrow": "fb03df2cf98a2c0f54ac5800026b34ab54097ebdb758ee004b9189e589254b10",
    },
}

GENERATED_CONFIGS = {
    "multiplets": dict(
        sentence_keys=["sample_id_og", "cell_sentence", "semantic_true", "semantic_similar"],
        negatives_per_sample=3,
    ),
    "pairs": dict(
        dataset_format="pairs",
        sentence_keys=["sample_id_og", "cell_sentence"],
        negatives_per_sample=3,
    ),
    "resolved": dict(
        sentence_keys=["cell_sentence"], negatives_per_sample=2, resolve_negatives=True
    ),
    "single": dict(dataset_format="single", sentence_keys=["cell_sentence", "sample_id_og"]),
    # no gene list: sentences from the validation's meta tables, no sentence job
    "ids": dict(sentence_keys=["sample_id_og"], negatives_per_sample=2),
    "obs_resolved": dict(
        sentence_keys=["cell_type"], negatives_per_sample=2, resolve_negatives=True
    ),
}


@pytest.mark.parametrize("name", list(GENERATED_CONFIGS))
def test_generated_run_shards_are_pinned(project, name):
    project.write(two_split_layout(highly_variable=True, n_captions=3))
    config = project.config(cs_length=12, seed=11, **GENERATED_CONFIGS[name])
    result = project.run(config)
    assert result.ok, result.logs
    assert dataset_digests(project.output_path(config), project.data_dir) == GENERATED_PINS[name]
