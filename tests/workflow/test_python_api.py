"""The user guide's Python API gives the same rows as the workflow for the same input and seed."""

from __future__ import annotations

import anndata as ad
import datasets
import pytest

from adata_hf_datasets.dataset import AnnDataSetConstructor, create_cell_sentences

from ..conftest import two_split_layout

pytestmark = pytest.mark.workflow


@pytest.mark.parametrize(
    ("fmt", "keys", "k", "resolve"),
    [
        (
            "multiplets",
            ["sample_id_og", "cell_sentence", "semantic_true", "semantic_similar"],
            4,
            False,
        ),
        ("multiplets", ["cell_sentence"], 2, True),
        ("pairs", ["sample_id_og"], 3, False),
    ],
)
def test_api_equals_workflow(project, fmt, keys, k, resolve):
    paths = project.write(two_split_layout(highly_variable=True))
    config = project.config(
        dataset_format=fmt,
        sentence_keys=keys,
        negatives_per_sample=k,
        resolve_negatives=resolve,
        cs_length=12,
        seed=7,
    )
    result = project.run(config)
    assert result.ok, result.logs
    built = datasets.load_from_disk(str(project.output_path(config)))

    for split, chunk_paths in paths.items():
        constructor = AnnDataSetConstructor(
            fmt, negatives_per_sample=k, resolve_negatives=resolve, seed=7, split=split
        )
        # semantic_similar compares annotations over the whole split: compute the sentences on
        # the split's cells together, then add each chunk as its own AnnData.
        chunks = [ad.read_zarr(path) for path in chunk_paths]
        whole = ad.concat(chunks, merge="same")
        create_cell_sentences(
            whole,
            gene_name_column="gene_name",
            annotation_column="cell_type",
            cs_length=12,
            required_obsm_keys=config["dataset_creation"]["required_obsm_keys"],
        )
        start = 0
        for path, chunk in zip(chunk_paths, chunks, strict=True):
            part = whole[start : start + chunk.n_obs]
            start += chunk.n_obs
            constructor.add_anndata(
                part, keys, caption_key="caption", batch_key="batch", adata_link=str(path)
            )
        api = constructor.get_dataset()
        assert api.features == built[split].features
        ours, theirs = api.to_pandas(), built[split].to_pandas()
        differing = [c for c in ours.columns if not ours[c].equals(theirs[c])]
        bad = (ours[differing] != theirs[differing]).any(axis=1)
        assert differing == [], (
            f"{split}: {differing}\n{ours.loc[bad, differing].head(3).to_dict('list')}\n"
            f"{theirs.loc[bad, differing].head(3).to_dict('list')}"
        )
