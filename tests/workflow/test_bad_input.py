"""Bad input: one clear message naming the file and key, a failed run, and no dataset written."""

from __future__ import annotations

import json
import shutil

import datasets
import numpy as np
import pytest

from tests.support.synthetic import ChunkRecipe, make_adata

from ..conftest import two_split_layout

pytestmark = pytest.mark.workflow


def assert_fails_cleanly(project, config, *expected):
    result = project.run(config)
    assert not result.ok, "the run should fail"
    for text in expected:
        assert text in result.logs, f"{text!r} not in the messages:\n{result.logs[-3000:]}"
    assert not project.output_path(config).exists(), "a dataset was written despite the error"
    assert not (project.workdir / "results" / "shards").exists(), "heavy work started"
    return result


def test_missing_obsm_key_names_chunk_and_key(project):
    project.write(two_split_layout())
    config = project.config(required_obsm_keys=["X_pca", "X_geneformer"])
    result = assert_fails_cleanly(
        project, config, "X_geneformer", "chunk_0.zarr", "required_obsm_keys"
    )
    # all chunks are reported together
    for chunk in ("train/chunk_0.zarr", "train/chunk_1.zarr", "val/chunk_0.zarr"):
        assert chunk in result.logs


def test_missing_caption_column(project):
    project.write(two_split_layout())
    assert_fails_cleanly(
        project, project.config(caption_key="description"), "'description'", "caption_key"
    )


def test_duplicate_ids_across_chunks_name_both_chunks(project):
    layout = two_split_layout()
    layout["train"][1] = ChunkRecipe(n_cells=50, id_prefix="tr0", seed=9)  # same ids as chunk_0
    project.write(layout)
    assert_fails_cleanly(
        project,
        project.config(),
        "train/chunk_0",
        "train/chunk_1",
        "'tr0_0'",
        "more than one chunk",
    )


def write_train_chunk_1_with_missing_captions(project, missing):
    """The default layout, with cells 3 and 7 of train/chunk_1 lacking a caption."""
    paths = project.write(two_split_layout())
    adata = make_adata(ChunkRecipe(n_cells=120, id_prefix="tr1", seed=2))
    adata.obs["caption"] = adata.obs["caption"].astype(object)
    adata.obs.iloc[[3, 7], adata.obs.columns.get_loc("caption")] = missing
    shutil.rmtree(paths["train"][1])
    adata.write_zarr(paths["train"][1])


def test_nan_captions_error_mode(project):
    write_train_chunk_1_with_missing_captions(project, np.nan)
    assert_fails_cleanly(
        project,
        project.config(on_missing_caption="error"),
        "chunk_1.zarr",
        "2 cell(s) have no caption",
        "'tr1_3'",
    )


def test_nan_captions_are_dropped_and_counted_by_default(project):
    write_train_chunk_1_with_missing_captions(project, None)
    config = project.config(negatives_per_sample=4)
    result = project.run(config)
    assert result.ok, result.logs
    train = datasets.load_from_disk(str(project.output_path(config)))["train"].to_pandas()
    assert len(train) == 238
    negatives = set(train[[f"negative_{i}_idx" for i in range(1, 5)]].to_numpy().ravel())
    assert not {"tr1_3", "tr1_7"} & (negatives | set(train["sample_idx"]))
    # Pool positions skip the dropped cells: caption negatives still differ in caption.
    caption_of = dict(zip(train["sample_idx"], train["positive"], strict=True))
    for column in ("negative_1_idx", "negative_3_idx"):
        assert (train[column].map(caption_of) != train["positive"]).all()
    summary = json.loads((project.output_path(config) / "summary.json").read_text())
    assert summary["splits"]["train"]["dropped"]["missing_caption"] == 2


def test_empty_chunk(project):
    layout = two_split_layout()
    layout["val"][0] = ChunkRecipe(n_cells=0, id_prefix="va0")
    project.write(layout)
    assert_fails_cleanly(project, project.config(), "val/chunk_0.zarr", "no cells")


def test_corrupt_zarr(project):
    paths = project.write(two_split_layout())
    for meta in paths["train"][0].rglob("zarr.json"):
        meta.write_text("{ not json")
    for meta in paths["train"][0].rglob(".z*"):
        meta.write_text("{ not json")
    assert_fails_cleanly(
        project, project.config(), "train/chunk_0.zarr", "cannot be read as AnnData"
    )


def test_missing_gene_name_is_an_error_naming_the_gene(project):
    paths = project.write(two_split_layout())
    adata = make_adata(ChunkRecipe(n_cells=120, id_prefix="va0", seed=3))
    adata.var["gene_name"] = adata.var["gene_name"].astype(object)
    adata.var.iloc[5, 0] = ""
    shutil.rmtree(paths["val"][0])
    adata.write_zarr(paths["val"][0])
    assert_fails_cleanly(
        project,
        project.config(sentence_keys=["cell_sentence"]),
        "val/chunk_0.zarr",
        "gene_name",
        "ENSG00000000005",
    )


def test_missing_data_folder_names_the_path(project):
    config = project.config()
    result = project.run(config)
    assert not result.ok
    assert str(project.data_dir) in result.error and "does not exist" in result.error


@pytest.mark.parametrize(
    ("creation", "expected"),
    [
        ({"cs_length": "long"}, "dataset_creation.cs_length"),
        ({"negatives_per_sampel": 2}, "did you mean 'negatives_per_sample'"),
        ({"dataset_format": "triplets"}, "'triplets' is not one of"),
        (
            {"sentence_keys": ["sample_id_og", "cell_sentence"], "resolve_negatives": True},
            "needs exactly one sentence key",
        ),
        ({"sentence_keys": ["semantic_true"], "annotation_key": None}, "need 'annotation_key'"),
        ({"caption_key": None}, "needs captions but 'caption_key' is null"),
        ({"caption_key": "cell type/label"}, "caption_key must not contain '/'"),
        (
            {"caption_key": "cell caption", "push_to_hub": True},
            "'toy_multiplets_cell caption' is not a valid Hub repository name",
        ),
    ],
)
def test_config_errors_are_one_clear_message_before_any_job(project, creation, expected):
    project.write({"train": [ChunkRecipe(n_cells=20)]})
    result = project.run(project.config(**creation), dryrun=True)
    assert not result.ok
    assert expected in result.error, result.error
    assert result.jobs == []


def test_duplicate_ids_within_a_chunk_and_problems_of_several_chunks_together(project):
    paths = project.write(two_split_layout())
    adata = make_adata(ChunkRecipe(n_cells=120, id_prefix="tr1", seed=2))
    adata.obs_names = ["dup"] * 3 + list(adata.obs_names[3:])
    shutil.rmtree(paths["train"][1])
    adata.write_zarr(paths["train"][1])
    # a second, different problem in another chunk is reported in the same run
    config = project.config(required_obsm_keys=["X_pca"], caption_key="caption")
    va = make_adata(ChunkRecipe(n_cells=50, id_prefix="va0", seed=3, obsm={}))
    shutil.rmtree(paths["val"][0])
    va.write_zarr(paths["val"][0])
    result = assert_fails_cleanly(project, config, "train/chunk_1.zarr", "'dup'", "not unique")
    assert "val/chunk_0.zarr: missing required obsm key(s) ['X_pca']" in result.logs


def test_a_split_folder_that_is_no_split_name_fails_before_any_job_naming_the_fix(project):
    project.write({"train": [ChunkRecipe(n_cells=20)], "train-v2": [ChunkRecipe(n_cells=20)]})
    result = project.run(project.config(), dryrun=True)
    assert not result.ok and result.jobs == []
    assert f"{project.data_dir / 'train-v2'} holds chunks but is not a split" in result.error
    assert "rename it" in result.error and "dataset_creation.splits" in result.error
    # listed as a split, the name itself must be one Hugging Face accepts
    result = project.run(project.config(splits=["train", "train-v2"]), dryrun=True)
    assert not result.ok and result.jobs == []
    assert "no valid Hugging Face split name" in result.error
    assert "rename the folder, e.g. train-v2 -> train_v2" in result.error


def test_a_caption_key_with_a_space_builds_a_local_dataset(project):
    """Hub repository names allow no space; a build that does not push needs no Hub name."""
    layout = {"train": [ChunkRecipe(n_cells=40, seed=1)]}
    paths = project.write(layout)
    adata = make_adata(ChunkRecipe(n_cells=40, seed=1))
    adata.obs["cell caption"] = adata.obs["caption"]
    shutil.rmtree(paths["train"][0])
    adata.write_zarr(paths["train"][0])
    config = project.config(caption_key="cell caption")
    result = project.run(config)
    assert result.ok, result.logs
    card = (project.output_path(config) / "README.md").read_text()
    assert "toy_multiplets_cell caption" in card
