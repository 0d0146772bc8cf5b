"""The negative-quality report of a built dataset says what its rows hold: recomputed here from
the dataset's rows and the chunks' embeddings, its numbers agree; the card shows the table, and
the plot lies beside the dataset and in `snakemake --report`."""

from __future__ import annotations

import json
import subprocess
import sys

import anndata as ad
import datasets
import numpy as np
import pytest

from ..conftest import two_split_layout
from ..snakemake_runner import REPO

pytestmark = pytest.mark.workflow


def _embedding_by_id(project, split: str) -> dict[str, np.ndarray]:
    vectors = {}
    for path in sorted((project.data_dir / split).glob("*.zarr")):
        adata = ad.read_zarr(path)
        units = adata.obsm["X_pca"] / np.linalg.norm(adata.obsm["X_pca"], axis=1, keepdims=True)
        vectors.update(zip(adata.obs_names, units, strict=True))
        obs = adata.obs
        vectors.update({f"{name}/obs": row for name, row in obs.iterrows()})
    return vectors


def test_negative_quality_report_agrees_with_the_rows(project, tmp_path):
    project.write(two_split_layout())
    config = project.config(negatives_per_sample=2)
    result = project.run(config)
    assert result.ok, result.logs
    out = project.output_path(config)
    summary = json.loads((out / "summary.json").read_text())
    dataset = datasets.load_from_disk(str(out))

    for split in ("train", "val"):
        quality = summary["negative_quality"][split]
        assert quality["embedding"] == "X_pca"
        known = _embedding_by_id(project, split)
        frame = dataset[split].to_pandas()
        for i, kind in ((1, "caption"), (2, "sentence")):
            entry = quality[f"negative_{i}_idx"]
            assert entry["kind"] == kind and entry["mined"] is False
            anchors, negatives = frame["sample_idx"], frame[f"negative_{i}_idx"]
            similarity = [
                float(known[a] @ known[n]) for a, n in zip(anchors, negatives, strict=True)
            ]
            assert entry["pairs"] == len(frame)
            assert entry["mean_similarity"] == pytest.approx(np.mean(similarity), abs=1e-4)
            median = entry["similarity_quantiles"]["p50"]
            assert abs(median - np.median(similarity)) <= 0.02  # read from 0.01-wide bins
            for column, key in (
                ("batch", "same_batch_fraction"),
                ("caption", "same_caption_fraction"),
                ("cell_type", "same_annotation_fraction"),
            ):
                same = [
                    known[f"{a}/obs"][column] == known[f"{n}/obs"][column]
                    for a, n in zip(anchors, negatives, strict=True)
                ]
                assert entry[key] == pytest.approx(np.mean(same), abs=1e-4), (split, i, key)
            uses = negatives.value_counts()
            assert entry["reuse_max"] == uses.max()
        # a caption negative never shares the anchor's caption; a sentence negative may
        assert quality["negative_1_idx"]["same_caption_fraction"] == 0
        baseline = quality["baseline_same_batch_other_caption"]
        assert baseline["same_batch_fraction"] == 1 and baseline["same_caption_fraction"] == 0
        # positive reference: the cell against the centroid of the others with its caption
        captions = frame.set_index("sample_idx")["positive"]
        reference = []
        for cell, caption in captions.items():
            others = [known[c] for c, cap in captions.items() if cap == caption and c != cell]
            if others:
                centroid = np.sum(others, axis=0)
                reference.append(known[cell] @ centroid / np.linalg.norm(centroid))
        positive = quality["positive_reference"]
        assert positive["pairs"] == len(reference)
        assert positive["mean_similarity"] == pytest.approx(np.mean(reference), abs=1e-4)

    # the card's table, the plot beside the dataset, and the same plot for the report
    card = (out / "README.md").read_text()
    assert "How hard and how clean the negatives are" in card
    assert "| `val` | `negative_2_idx` (sentence, random) |" in card
    plot = (out / "negative_quality.svg").read_text()
    assert plot.startswith("<svg") and "split train" in plot and "split val" in plot
    report_copy = project.workdir / "results" / "report" / "toy" / "negative_quality.svg"
    assert report_copy.read_text() == plot

    report = tmp_path / "report.html"
    made = subprocess.run(
        [
            sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
            "--configfile", str(project.workdir / "test-config.yaml"), "--report", str(report),
        ],
        cwd=project.workdir, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    html = report.read_text()
    assert "negative_quality.svg" in html and "summary.html" in html
