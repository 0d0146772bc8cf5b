import base64
import json
import re
import sys
import time
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import update_config
from snakemake.common.configfile import load_configfile

# Every path comes from this file's own folder, never from the working directory or
# workflow.basedir (the consumer's folder when this workflow is a module of another one).
REPO_DIR = Path(workflow.current_basedir.get_path_or_uri(secret_free=True)).parents[1]
LIB_DIR = REPO_DIR / "workflow" / "lib"

# The scripts and this file run the package of this checkout (workflow/lib), whatever copy is
# installed in the environment: see workflow/scripts/_package.py.
if str(LIB_DIR) not in sys.path[:1]:
    sys.path.insert(0, str(LIB_DIR))
_loaded = sys.modules.get("adata_hf_datasets")
if _loaded is not None and Path(_loaded.__file__).parent.parent != LIB_DIR:
    raise WorkflowError(
        f"adata_hf_datasets {_loaded.__version__} was imported from {_loaded.__file__} before "
        f"this workflow ({LIB_DIR}) was parsed; the workflow runs its own package: import it "
        "after the workflow, or run Snakemake in a fresh process"
    )

from adata_hf_datasets.config import validate_config
from adata_hf_datasets.errors import AdataHfError
from adata_hf_datasets.io.discovery import discover_chunks
from adata_hf_datasets.publish.card import check_card_template


def settings_and_chunks(config):
    """The validated settings and the chunks of each split; everything that depends only on
    the config and the folder names is checked here, before any job (the card template too).
    """
    settings = validate_config(config)
    chunks = discover_chunks(settings.data_dir, settings.splits)
    check_card_template(settings.card_settings(), settings.format_spec(), list(chunks))
    return settings, chunks


try:
    SETTINGS, CHUNKS = settings_and_chunks(config)
except AdataHfError as error:
    if "--lint" not in sys.argv:
        raise WorkflowError(str(error)) from None
    # `snakemake --lint` without a dataset config: lint the rules with the bundled example.
    update_config(config, load_configfile(REPO_DIR / "config" / "example.yaml"))
    config["base_file_path"] = str(REPO_DIR / config["base_file_path"])
    SETTINGS, CHUNKS = settings_and_chunks(config)

for note in SETTINGS.notes:
    print(f"adata-hf-datasets: {note}", file=sys.stderr)

NAME = SETTINGS.dataset_name
SPLITS = list(CHUNKS)
CHUNK_BY_LABEL = {(c.split, c.name): c for chunks in CHUNKS.values() for c in chunks}
OUTPUT_PATH = str(SETTINGS.output_path)
BUILT_RECORD = f"results/dataset/{NAME}/built.json"
# The gate: jobs wait for it, but its rewrite (check_inputs reruns when one of the rules it
# applies is edited, e.g. on_missing_caption) does not make them run again.
INPUTS_OK = ancient(f"results/validate/{NAME}/inputs_ok.json")
if (
    Path(BUILT_RECORD).exists()
    and not (SETTINGS.output_path / "dataset_dict.json").exists()
):
    # The dataset folder is gone (moved, deleted): its record must not say it is built.
    print(
        f"adata-hf-datasets: {OUTPUT_PATH} is missing: it will be built again",
        file=sys.stderr,
    )
    Path(BUILT_RECORD).unlink()


wildcard_constraints:
    split="|".join(re.escape(s) for s in SPLITS),
    chunk="[^/]+",


def chunk_of(wildcards):
    return CHUNK_BY_LABEL[(wildcards.split, wildcards.chunk)]


def get_chunk_path(wildcards):
    return str(chunk_of(wildcards).path)


def per_chunk(pattern, split):
    """``pattern`` expanded for every chunk of ``split``, in shard order."""
    return [pattern.format(split=split, chunk=c.name) for c in CHUNKS[split]]


def get_split_index_inputs(wildcards):
    inputs = {
        "metas": per_chunk(
            f"results/validate/{NAME}/{{split}}/{{chunk}}.arrow", wildcards.split
        ),
        "ok": INPUTS_OK,
    }
    if SETTINGS.drops_empty_sentences:
        # cells with an empty gene list are left out of the pool: the sentences come first
        inputs["sentence_stats"] = per_chunk(
            f"results/sentences/{NAME}/{{split}}/{{chunk}}.json", wildcards.split
        )
    return inputs


def get_split_inspections(wildcards):
    return {
        "metas": per_chunk(
            f"results/validate/{NAME}/{{split}}/{{chunk}}.arrow", wildcards.split
        ),
        "reports": per_chunk(
            f"results/validate/{NAME}/{{split}}/{{chunk}}.json", wildcards.split
        ),
    }


def get_all_inspections(wildcards):
    metas, reports = [], []
    for split in SPLITS:
        metas += per_chunk(f"results/validate/{NAME}/{{split}}/{{chunk}}.arrow", split)
        reports += per_chunk(f"results/validate/{NAME}/{{split}}/{{chunk}}.json", split)
    return {"metas": metas, "reports": reports}


def get_shard_inputs(wildcards):
    split, chunk = wildcards.split, wildcards.chunk
    inputs = {
        "meta": f"results/validate/{NAME}/{split}/{chunk}.arrow",
        "index": f"results/index/{NAME}/{split}.arrow",
    }
    if SETTINGS.needs_expression:
        inputs["sentences"] = f"results/sentences/{NAME}/{split}/{chunk}.arrow"
    if SETTINGS.uses_captions:
        inputs["negatives"] = f"results/negatives/{NAME}/{split}/{chunk}.arrow"
    if SETTINGS.use_nextcloud:
        inputs["link"] = f"results/upload/{NAME}/{split}/{chunk}.json"
    if SETTINGS.resolve_negatives:
        # A resolved sentence negative may live in any chunk of the split: its sentence file,
        # or its meta table when no key needs a gene list.
        pattern = (
            f"results/sentences/{NAME}/{{split}}/{{chunk}}.arrow"
            if SETTINGS.needs_expression
            else f"results/validate/{NAME}/{{split}}/{{chunk}}.arrow"
        )
        inputs["split_sentences"] = per_chunk(pattern, split)
    return inputs


# The split's cells in the report (and mining) embedding: see steps/embedding.py.
EMBEDDING_FILES = {
    "vectors": f"results/embedding/{NAME}/{{split}}.vectors.npy",
    "cells": f"results/embedding/{NAME}/{{split}}.cells.arrow",
    "lists": f"results/embedding/{NAME}/{{split}}.lists.npz",
}


def embedding_files(split):
    return {name: path.format(split=split) for name, path in EMBEDDING_FILES.items()}


def get_negatives_inputs(wildcards):
    inputs = {
        "index": f"results/index/{NAME}/{wildcards.split}.arrow",
        "pool": f"results/negative_pool/{NAME}/{wildcards.split}.arrow",
    }
    if SETTINGS.hard_negatives is not None:
        inputs.update(embedding_files(wildcards.split))
    return inputs


def get_negative_quality_inputs(wildcards):
    split = wildcards.split
    return {
        "index": f"results/index/{NAME}/{split}.arrow",
        "pool": f"results/negative_pool/{NAME}/{split}.arrow",
        "negatives": per_chunk(
            f"results/negatives/{NAME}/{{split}}/{{chunk}}.arrow", split
        ),
        **embedding_files(split),
    }


def get_sentence_inputs(wildcards):
    inputs = {"chunk": get_chunk_path(wildcards), "ok": INPUTS_OK}
    if SETTINGS.needs_similarity:
        inputs["similar"] = f"results/index/{NAME}/{wildcards.split}.similar.json"
    return inputs


def get_dataset_inputs(wildcards):
    """Every split's shards and the statistics the dataset's summary and card are made of."""
    inputs = {"inputs": f"results/validate/{NAME}/inputs_ok.json"}
    for split in SPLITS:
        inputs[f"{split}_info"] = f"results/index/{NAME}/{split}.json"
        inputs[f"{split}_shards"] = per_chunk(
            f"results/shards/{NAME}/{{split}}/{{chunk}}.arrow", split
        )
        inputs[f"{split}_stats"] = per_chunk(
            f"results/shards/{NAME}/{{split}}/{{chunk}}.json", split
        )
        if SETTINGS.uses_captions:
            inputs[f"{split}_negative_counts"] = per_chunk(
                f"results/negatives/{NAME}/{{split}}/{{chunk}}.json", split
            )
            inputs[f"{split}_negative_quality"] = (
                f"results/negative_quality/{NAME}/{split}.json"
            )
        if SETTINGS.needs_expression:
            inputs[f"{split}_sentence_stats"] = per_chunk(
                f"results/sentences/{NAME}/{{split}}/{{chunk}}.json", split
            )
    return inputs


RUN_STARTED = time.time()
OUR_OUTPUT = re.compile(
    r"results/(validate|index|negative_pool|embedding|sentences|negatives|negative_quality|upload"
    r"|shards"
    r"|splits|dataset|hub|report)"
    rf"/{re.escape(NAME)}/"
)


def forget_interrupted_outputs():
    """Let the plain rerun continue after Ctrl-C or a killed job.

    While a job runs Snakemake marks its outputs incomplete, and after an interruption it
    refuses to go on until told ``--rerun-incomplete``. Every output of this workflow is
    written to a temporary name and renamed when complete, so one that exists is complete: its
    mark only tells that the run stopped before Snakemake noted the job done. Those marks are
    removed here (when no Snakemake holds the working directory); whether the job runs again
    is then decided as always (missing output, newer input, edited setting).
    """
    state = Path(".snakemake")
    locks = state / "locks"
    if not workflow.is_main_process or (locks.is_dir() and any(locks.iterdir())):
        return
    incomplete = state / "incomplete"
    markers = (
        [m for m in incomplete.rglob("*") if m.is_file()] if incomplete.is_dir() else []
    )
    for marker in markers:
        parts = marker.relative_to(
            incomplete
        ).parts  # the path, urlsafe base64, @-split
        try:
            path = base64.urlsafe_b64decode(
                "".join(p.lstrip("@") for p in parts)
            ).decode()
        except ValueError:
            continue  # not a mark of an output (e.g. Snakemake's migration_underway)
        if OUR_OUTPUT.match(path) and Path(path).exists():
            marker.unlink()


forget_interrupted_outputs()


def report_dataset_warnings():
    """At the end of a run that built the dataset, its warnings on the console (they are in
    its summary.json and card too): what the user gets differently from what they asked.
    """
    summary = SETTINGS.output_path / "summary.json"
    if not summary.exists() or summary.stat().st_mtime < RUN_STARTED:
        return
    warnings = json.loads(summary.read_text()).get("warnings", [])
    if warnings:
        lines = "\n".join(f"  - {warning}" for warning in warnings)
        print(
            f"adata-hf-datasets: {OUTPUT_PATH} was built with {len(warnings)} warning(s) "
            f"(also in its summary.json and README.md):\n{lines}",
            file=sys.stderr,
        )


def get_final_outputs():
    if SETTINGS.push_to_hub:
        return [f"results/hub/{NAME}/pushed.json"]
    return [BUILT_RECORD]


def get_adata_link(wildcards):
    """Without Nextcloud, a row's adata_link is its chunk's absolute local path; with it, the
    link comes from the chunk's upload receipt (an input), and this param stays empty.
    """
    return "" if SETTINGS.use_nextcloud else str(chunk_of(wildcards).path)


def nextcloud_settings():
    """Nextcloud settings as written in the config: variable references, never secrets."""
    return {
        "nextcloud_config": SETTINGS.nextcloud_config,
        "force_reupload": SETTINGS.force_reupload,
    }


# Resources follow the work. A job asks for a floor plus so much per GB of the inputs that
# drive its work (a chunk's AnnData, the split's index, the chunk's sentences...), times the
# attempt: when SLURM kills a job (memory, time limit) the retry asks for 2x, then 3x. An input
# that does not exist yet shows as <TBD> in a dry run and is measured when the job is submitted.
# To override them on one cluster: --set-resources cell_sentences:mem_mb=16000.
_DIR_SIZES = {}


def path_size_gb(path):
    """Size in GB of a file, or of all files under a directory (a .zarr store)."""
    path = Path(path)
    if path.is_dir():
        # an input chunk does not change during a run: walk each store once
        if path not in _DIR_SIZES:
            size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
            _DIR_SIZES[path] = size / 2**30
        return _DIR_SIZES[path]
    # a missing input raises FileNotFoundError naming it: Snakemake makes the value <TBD>
    return path.stat().st_size / 2**30


def input_size_gb(input, name):
    """Total size in GB of the named input (one file, a directory, or a list of them)."""
    files = input.get(name, [])
    if isinstance(files, str):
        files = [files]
    return sum(path_size_gb(f) for f in files)


def _scaled(base, per_gb, input, attempt):
    work = sum(weight * input_size_gb(input, name) for name, weight in per_gb.items())
    return int(attempt * (base + work))


def mem_mb_for(*, base, **per_gb):
    """``mem_mb``: ``base`` MB plus, for each named input, ``per_gb[name]`` MB per GB of it;
    times the attempt (1, 2, 3).
    """

    def mem_mb(wildcards, input, attempt):
        return _scaled(base, per_gb, input, attempt)

    return mem_mb


def runtime_for(*, base, **per_gb):
    """``runtime`` in minutes: ``base`` plus ``per_gb[name]`` minutes per GB of each named
    input; times the attempt.
    """

    def runtime(wildcards, input, attempt):
        return _scaled(base, per_gb, input, attempt)

    return runtime
