"""The workflow end to end on generated chunks, through Snakemake's Python API."""

from __future__ import annotations

import json

import datasets
import numpy as np
import pytest

from tests.support.synthetic import ChunkRecipe

from ..conftest import two_split_layout

pytestmark = pytest.mark.workflow


def test_full_run_gives_a_dataset_dict_with_right_negatives(project):
    project.write(two_split_layout())
    config = project.config(negatives_per_sample=4)
    result = project.run(config)
    assert result.ok, result.logs

    out = project.output_path(config)
    dataset = datasets.load_from_disk(str(out))
    assert list(dataset) == ["train", "val"]
    assert dataset["train"].num_rows == 240 and dataset["val"].num_rows == 120
    assert list(dataset["train"].features) == [
        "sample_idx",
        "cell_sentence_1",
        "positive",
        "negative_1_idx",
        "negative_2_idx",
        "negative_3_idx",
        "negative_4_idx",
        "adata_link",
    ]
    for split, frame in ((s, dataset[s].to_pandas()) for s in dataset):
        ids = set(frame["sample_idx"])
        caption_of = dict(zip(frame["sample_idx"], frame["positive"], strict=True))
        negatives = frame[[f"negative_{i}_idx" for i in range(1, 5)]].to_numpy()
        assert set(negatives.ravel()) <= ids, f"{split}: a negative from another split"
        assert not (negatives == frame["sample_idx"].to_numpy()[:, None]).any()
        assert all(len(set(row)) == 4 for row in negatives)
        for col in (0, 2):  # caption negatives
            assert all(
                caption_of[n] != c
                for n, c in zip(negatives[:, col], frame["positive"], strict=True)
            )
        # Random, not first-match: many distinct negatives per column.
        assert len(set(negatives[:, 0])) > len(frame) // 4
    # adata_link: the chunk's absolute path
    links = set(dataset["train"]["adata_link"])
    assert links == {str(project.data_dir / "train" / f"chunk_{i}.zarr") for i in range(2)}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["splits"]["train"]["rows"] == 240
    assert sum(summary["splits"]["train"]["negative_levels"].values()) == 240 * 4


def test_dry_run_lists_one_job_per_chunk_before_anything_runs(project):
    project.write(two_split_layout())
    result = project.run(
        project.config(sentence_keys=["sample_id_og", "cell_sentence"]), dryrun=True
    )
    assert result.ok, result.logs
    for rule in ("validate_chunk", "cell_sentences", "sample_negatives", "write_shard"):
        chunks = sorted((w["split"], w["chunk"]) for r, w in result.jobs if r == rule)
        assert chunks == [("train", "chunk_0"), ("train", "chunk_1"), ("val", "chunk_0")], rule
    assert not (project.workdir / "results").exists()


def _mtimes(root):
    return {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def _changed(before, after, step):
    return sorted(str(p.name) for p in after if step in p.parts and before.get(p) != after[p])


def test_editing_cs_length_reruns_sentences_and_shards_not_negatives(project):
    project.write(two_split_layout())
    config = project.config(sentence_keys=["sample_id_og", "cell_sentence"], cs_length=10)
    assert project.run(config).ok
    results = project.workdir / "results"
    before = _mtimes(results)
    config["dataset_creation"]["cs_length"] = 5
    rerun = project.run(config)
    assert rerun.ok, rerun.logs
    assert rerun.count("cell_sentences") == 3 and rerun.count("write_shard") == 3
    assert rerun.count("sample_negatives") == 0 and rerun.count("validate_chunk") == 0
    after = _mtimes(results)
    assert _changed(before, after, "negatives") == []
    assert len(_changed(before, after, "sentences")) == 6  # each chunk: sentences, stats
    sentences = datasets.load_from_disk(str(project.output_path(config)))["train"][
        "cell_sentence_2"
    ]
    assert max(len(s.split()) for s in sentences) == 5


def test_editing_negatives_per_sample_reruns_negatives_and_shards_not_sentences(project):
    project.write(two_split_layout())
    config = project.config(sentence_keys=["sample_id_og", "cell_sentence"], negatives_per_sample=2)
    assert project.run(config).ok
    config["dataset_creation"]["negatives_per_sample"] = 3
    rerun = project.run(config)
    assert rerun.ok, rerun.logs
    assert rerun.count("sample_negatives") == 3 and rerun.count("write_shard") == 3
    assert rerun.count("cell_sentences") == 0 and rerun.count("validate_chunk") == 0
    features = datasets.load_from_disk(str(project.output_path(config)))["train"].features
    assert "negative_3_idx" in features


def test_rerun_with_nothing_changed_runs_nothing(project):
    project.write(two_split_layout())
    config = project.config()
    assert project.run(config).ok
    rerun = project.run(config)
    assert rerun.ok and rerun.rules() == []


def test_output_is_byte_identical_whatever_the_number_of_cores(project, tmp_path):
    project.write(two_split_layout())
    config = project.config(sentence_keys=["sample_id_og", "cell_sentence"], negatives_per_sample=3)
    assert project.run(config, cores=1).ok
    first = {
        p.relative_to(project.output_path(config)): p.read_bytes()
        for p in project.output_path(config).rglob("*.arrow")
    }
    other = type(project)(tmp_path / "second")
    other.data_dir = project.data_dir
    config2 = other.config(sentence_keys=["sample_id_og", "cell_sentence"], negatives_per_sample=3)
    assert other.run(config2, cores=2).ok
    second = {
        p.relative_to(other.output_path(config2)): p.read_bytes()
        for p in other.output_path(config2).rglob("*.arrow")
    }
    assert first.keys() == second.keys() and first == second


def test_h5ad_chunks_and_all_folder_published_as_test(project):
    project.write(
        {
            "all": [
                ChunkRecipe(n_cells=50, id_prefix="a0"),
                ChunkRecipe(n_cells=30, id_prefix="a1", seed=5),
            ]
        },
        suffix=".h5ad",
    )
    config = project.config(
        dataset_format="single", sentence_keys=["sample_id_og", "cell_sentence"], caption_key=None
    )
    result = project.run(config)
    assert result.ok, result.logs
    dataset = datasets.load_from_disk(str(project.output_path(config)))
    assert list(dataset) == ["test"] and dataset["test"].num_rows == 80
    assert list(dataset["test"].features) == [
        "sample_idx",
        "cell_sentence_1",
        "cell_sentence_2",
        "adata_link",
    ]
    assert project.output_path(config).name == "toy_single_no_caption"


def test_natural_chunk_order_numbers_the_shards(project):
    layout = {"train": [ChunkRecipe(n_cells=10, id_prefix=f"c{i}", seed=i) for i in range(11)]}
    project.write(layout)
    config = project.config()
    assert project.run(config).ok
    dataset = datasets.load_from_disk(str(project.output_path(config)))["train"]
    links = list(dict.fromkeys(dataset["adata_link"]))
    assert [link.rsplit("/", 1)[1] for link in links] == [f"chunk_{i}.zarr" for i in range(11)]


@pytest.mark.parametrize("k", [3])
def test_pairs_give_k_negative_rows_with_captions_new_to_each_cell(project, k):
    project.write(two_split_layout())  # 5 captions per chunk
    config = project.config(dataset_format="pairs", negatives_per_sample=k)
    result = project.run(config)
    assert result.ok, result.logs
    frame = datasets.load_from_disk(str(project.output_path(config)))["train"].to_pandas()
    assert list(frame.columns) == [
        "sample_idx",
        "cell_sentence_1",
        "caption",
        "label",
        "adata_link",
    ]
    assert frame["label"].dtype == np.float32
    assert len(frame) == (k + 1) * 240
    assert not frame.duplicated(["sample_idx", "caption"]).any()
    for _, rows in frame.groupby("sample_idx"):
        own = rows.loc[rows["label"] == 1.0, "caption"].tolist()
        assert len(own) == 1 and rows["label"].tolist() == [1.0] + [0.0] * k
        assert own[0] not in rows.loc[rows["label"] == 0.0, "caption"].tolist()


def test_pairs_with_fewer_captions_than_negatives_count_the_rows_they_cannot_give(project):
    project.write({"train": [ChunkRecipe(n_cells=60, n_captions=2, seed=4)]})
    config = project.config(dataset_format="pairs", negatives_per_sample=3)
    result = project.run(config)
    assert result.ok, result.logs
    out = project.output_path(config)
    frame = datasets.load_from_disk(str(out))["train"].to_pandas()
    assert len(frame) == 60 * 2  # each cell: its caption and the one other caption
    train = json.loads((out / "summary.json").read_text())["splits"]["train"]
    assert train["dropped"]["pairs_negative_rows_skipped"] == 60 * 2
    assert train["negative_levels"]["caption_none"] == 60 * 2


def test_resolved_negatives(project):
    project.write(two_split_layout())
    config = project.config(
        sentence_keys=["cell_sentence"], negatives_per_sample=2, resolve_negatives=True
    )
    result = project.run(config)
    assert result.ok, result.logs
    frame = datasets.load_from_disk(str(project.output_path(config)))["train"].to_pandas()
    assert list(frame.columns)[3:7] == [
        "negative_1_idx",
        "negative_1",
        "negative_2_idx",
        "negative_2",
    ]
    caption_of = dict(zip(frame["sample_idx"], frame["positive"], strict=True))
    sentence_of = dict(zip(frame["sample_idx"], frame["cell_sentence_1"], strict=True))
    assert all(
        caption_of[i] == c
        for i, c in zip(frame["negative_1_idx"], frame["negative_1"], strict=True)
    )
    assert all(
        sentence_of[i] == s
        for i, s in zip(frame["negative_2_idx"], frame["negative_2"], strict=True)
    )


def test_semantic_sentences(project):
    project.write(two_split_layout())
    config = project.config(
        sentence_keys=["cell_sentence", "semantic_true", "semantic_similar"], cs_length=8
    )
    result = project.run(config)
    assert result.ok, result.logs
    frame = datasets.load_from_disk(str(project.output_path(config)))["train"].to_pandas()
    cell_type_words = frame["cell_sentence_2"].str.split().str[-1]
    similar_words = frame["cell_sentence_3"].str.split().str[-1]
    assert cell_type_words.str.startswith("type_").all()
    assert (cell_type_words != similar_words).all()
    assert (frame["cell_sentence_2"].str.rsplit(" ", n=1).str[0] == frame["cell_sentence_1"]).all()
