"""The workflow as a module of another workflow (the way snakedeploy deploys it, and the way an
upstream preprocessing pipeline includes it as its last step), run from another folder."""

from __future__ import annotations

import textwrap

import datasets
import pytest

from ..conftest import two_split_layout
from ..snakemake_runner import REPO, run_workflow

pytestmark = pytest.mark.workflow

CONSUMER = textwrap.dedent(
    f"""\
    configfile: "test-config.yaml"


    module adata_hf:
        snakefile:
            "{REPO / "Snakefile"}"
        config:
            config


    use rule * from adata_hf as adata_hf_*


    rule all:
        default_target: True
        input:
            rules.adata_hf_all.input,
    """
)


def test_a_consumer_workflow_builds_the_dataset_from_its_own_folder(project):
    project.write(two_split_layout())
    config = project.config(sentence_keys=["sample_id_og", "cell_sentence"])
    snakefile = project.workdir / "Snakefile"
    snakefile.write_text(CONSUMER)

    plan = run_workflow(project.workdir, config, snakefile=snakefile, dryrun=True)
    assert plan.ok, plan.logs
    for rule in ("validate_chunk", "cell_sentences", "sample_negatives", "write_shard"):
        chunks = sorted((w["split"], w["chunk"]) for r, w in plan.jobs if r == f"adata_hf_{rule}")
        assert chunks == [("train", "chunk_0"), ("train", "chunk_1"), ("val", "chunk_0")], rule

    result = run_workflow(project.workdir, config, snakefile=snakefile)
    assert result.ok, result.logs
    out = project.output_path(config)
    dataset = datasets.load_from_disk(str(out))
    assert {s: dataset[s].num_rows for s in dataset} == {"train": 240, "val": 120}
    assert (out / "README.md").read_text().startswith("---\n")
    assert (project.workdir / "results").is_dir()  # outputs in the consumer's folder

    again = run_workflow(project.workdir, config, snakefile=snakefile)
    assert again.ok, again.logs
    assert again.jobs == []  # nothing to do: the consumer's own rule all is satisfied
