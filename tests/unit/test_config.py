from __future__ import annotations

from pathlib import Path

import pytest

from adata_hf_datasets.config import ConfigError, validate_config
from adata_hf_datasets.io.discovery import DiscoveryError, discover_chunks


def settings(**creation):
    config = {
        "dataset": {"name": "d"},
        "caption_key": "c",
        "base_file_path": "/base",
        "dataset_creation": creation,
    }
    return validate_config(config), config


def test_defaults_filled_and_paths_derived():
    s, config = settings()
    assert s.config["dataset_creation"]["cs_length"] == 4096
    assert "cs_length" not in config["dataset_creation"]  # the user's config is left as it is
    assert s.data_dir == Path("/base/processed/train/d")
    assert s.output_path.name == "d_multiplets_c"
    s, _ = settings(required_obsm_keys=["X_pca"])
    assert s.data_dir == Path("/base/processed_with_emb/train/d")


def test_semantic_keys_removed_without_annotation_with_a_note():
    s, _ = settings(sentence_keys=["sample_id_og", "semantic_true"])
    assert s.sentence_keys == ("sample_id_og",)
    assert "removed" in s.notes[0]


def test_all_problems_reported_together():
    with pytest.raises(ConfigError) as error:
        settings(cs_length=0, dataset_format="x", unknown_key=1)
    text = str(error.value)
    assert (
        "cs_length" in text
        and "'x' is not one of" in text
        and "unknown key 'dataset_creation.unknown_key'" in text
    )


def test_top_level_keys_of_other_steps_are_ignored():
    config = {
        "dataset": {"name": "d"},
        "base_file_path": "/b",
        "preprocessing": {"x": 1},
        "caption_key": "c",
    }
    validate_config(config)


def test_discovery_natural_order_and_all_as_test(tmp_path):
    for name in ["chunk_10.zarr", "chunk_2.zarr", "chunk_1.zarr"]:
        (tmp_path / "all" / name).mkdir(parents=True)
    (tmp_path / "all" / "notes.txt").write_text("x")
    chunks = discover_chunks(tmp_path)
    assert list(chunks) == ["test"]
    assert [c.name for c in chunks["test"]] == ["chunk_1", "chunk_2", "chunk_10"]
    assert [c.shard_index for c in chunks["test"]] == [0, 1, 2]


def test_discovery_errors_name_the_path(tmp_path):
    with pytest.raises(DiscoveryError, match=str(tmp_path / "nope")):
        discover_chunks(tmp_path / "nope")
    (tmp_path / "train").mkdir()
    with pytest.raises(DiscoveryError, match=r"train holds no \.zarr or \.h5ad chunk"):
        discover_chunks(tmp_path)
    (tmp_path / "train" / "c.zarr").mkdir()
    (tmp_path / "train" / "c.h5ad").write_text("")
    with pytest.raises(DiscoveryError, match="same name"):
        discover_chunks(tmp_path)


def chunk_folders(root, **folders):
    for folder, count in folders.items():
        (root / folder).mkdir()
        for i in range(count):
            (root / folder / f"chunk_{i}.zarr").mkdir()


def test_only_split_folders_are_published_and_every_problem_is_named(tmp_path):
    chunk_folders(tmp_path, train=2, val=0, extra=1, logs=0)
    with pytest.raises(DiscoveryError) as error:
        discover_chunks(tmp_path)
    message = str(error.value)
    assert "2 problem(s)" in message
    assert f"split folder {tmp_path / 'val'} holds no .zarr or .h5ad chunk" in message
    assert f"{tmp_path / 'extra'} holds chunks but is not a split folder" in message
    assert "dataset_creation.splits" in message and "logs" not in message


def test_listed_splits_are_the_ones_published(tmp_path):
    chunk_folders(tmp_path, train=2, ood_test=1, scratch=1)
    chunks = discover_chunks(tmp_path, ["train", "ood_test"])
    assert list(chunks) == ["train", "ood_test"]  # scratch/ is not listed: left out
    with pytest.raises(DiscoveryError, match="ood_test holds chunks but is not a split"):
        discover_chunks(tmp_path)  # unlisted, a folder of chunks must be a known split
    with pytest.raises(DiscoveryError, match=r"val \(dataset_creation.splits\) does not exist"):
        discover_chunks(tmp_path, ["train", "ood_test", "scratch", "val"])


def test_hard_negatives_are_off_by_default_and_resolve_their_embedding():
    s, _ = settings(required_obsm_keys=["X_scvi", "X_pca"])
    assert s.hard_negatives is None
    assert s.quality_embedding == "X_scvi"  # the report's embedding: the first required key
    s, _ = settings(required_obsm_keys=["X_scvi", "X_pca"], hard_negatives={"enabled": True})
    assert s.hard_negatives.obsm_key == "X_scvi"
    assert s.hard_negatives.exclude_same_annotation is False  # no annotation_key: noted
    assert any("exclude_same_annotation" in note for note in s.notes)
    s, _ = settings(
        required_obsm_keys=["X_scvi", "X_pca"],
        hard_negatives={"enabled": True, "obsm_key": "X_pca", "sampling": "top"},
    )
    assert (s.hard_negatives.obsm_key, s.hard_negatives.sampling) == ("X_pca", "top")
    assert s.quality_embedding == "X_pca"  # the report measures in the mining embedding


@pytest.mark.parametrize(
    "creation, expected",
    [
        (
            {
                "required_obsm_keys": ["X_pca"],
                "hard_negatives": {"enabled": True, "obsm_key": "X_umap"},
            },
            "'X_umap', which is not among dataset_creation.required_obsm_keys ['X_pca']",
        ),
        ({"hard_negatives": {"enabled": True}}, "no embedding is named"),
        (
            {
                "required_obsm_keys": ["X_pca"],
                "hard_negatives": {"enabled": True, "range_min": 9, "range_max": 9},
            },
            "range_max' (9) must be greater than range_min (9)",
        ),
        ({"hard_negatives": {"relative_margin": 1.5}}, "relative_margin"),
        ({"hard_negatives": {"sampling": "nearest"}}, "sampling"),
        ({"hard_negatives": {"range_maximum": 9}}, "range_max"),  # unknown key: the closest one
        (
            {
                "dataset_format": "pairs",
                "required_obsm_keys": ["X_pca"],
                "hard_negatives": {"enabled": True},
            },
            "made for the multiplets format",
        ),
    ],
)
def test_bad_hard_negative_settings_are_config_errors(creation, expected):
    with pytest.raises(ConfigError, match="invalid configuration") as error:
        settings(**creation)
    assert expected in str(error.value)
