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
        constructor = AnnDataSetConstructor(fmt, k, resolve, seed=7, split=split)
        for path in chunk_paths:
            adata = ad.read_zarr(path)
            create_cell_sentences(
                adata, gene_name_column="gene_name", annotation_column="cell_type", cs_length=12
            )
            constructor.add_anndata(
                adata, keys, caption_key="caption", batch_key="batch", adata_link=str(path)
            )
        api = constructor.get_dataset()
        assert api.features == built[split].features
        ours, theirs = api.to_pandas(), built[split].to_pandas()
        differing = [c for c in ours.columns if not ours[c].equals(theirs[c])]
        assert differing == [], f"{split}: {differing}\n{ours[differing].head(3)}\n{theirs[differing].head(3)}"
