"""Nothing lost, nothing silent: a failed run leaves the last good dataset as it was, a rerun
after Ctrl-C finishes with the same dataset, cells without gene lists are reported, and editing
a setting reruns only what it changes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import datasets
import pytest
import yaml

from tests.support.synthetic import make_adata

from ..conftest import two_split_layout
from ..snakemake_runner import REPO

pytestmark = pytest.mark.workflow


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def built(project, config) -> dict[str, bytes]:
    result = project.run(config)
    assert result.ok, result.logs
    return snapshot(project.output_path(config))


def assert_left_as_it_was(project, config, before: dict[str, bytes]) -> None:
    out = project.output_path(config)
    assert snapshot(out) == before, "the previous dataset was changed"
    assert datasets.load_from_disk(str(out))  # and still loads
    assert not list(out.parent.glob(f".{out.name}.*")), "a partial build was left behind"


def test_a_failing_build_leaves_the_previous_dataset_byte_for_byte(project):
    project.write(two_split_layout())
    config = project.config()
    before = built(project, config)
    # A template that renders for a few rows (the check before the run) but not for this
    # dataset: build_dataset fails after every other step of the new run has run.
    template = project.root / "card.md.j2"
    template.write_text(
        textwrap.dedent(
            """\
            ---
            license: mit
            ---
            # {{ dataset_name }}
            {% if total_samples > 100 %}{{ rows_of_a_big_dataset }}{% endif %}
            """
        )
    )
    result = project.run(project.config(cs_length=7, card_template=str(template)))
    assert not result.ok
    assert "rows_of_a_big_dataset" in result.logs and str(template) in result.logs
    assert_left_as_it_was(project, config, before)


def test_a_failing_shard_job_leaves_the_previous_dataset_byte_for_byte(project):
    project.write(two_split_layout())
    config = project.config()
    before = built(project, config)
    # The meta table of a chunk is spoiled (its mtime kept, so only the edited setting
    # decides what reruns): the rerun of its shard job fails.
    meta = project.workdir / "results" / "validate" / "toy" / "train" / "chunk_1.arrow"
    stat = meta.stat()
    meta.write_bytes(b"not an arrow file")
    os.utime(meta, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    result = project.run(project.config(negatives_per_sample=3))
    assert not result.ok
    assert ("write_shard", {"split": "train", "chunk": "chunk_1"}) in result.jobs
    assert_left_as_it_was(project, config, before)


def test_a_card_template_error_fails_before_any_job(project):
    project.write(two_split_layout())
    template = project.root / "card.md.j2"
    template.write_text("# {{ dataset_name }}\n{{ licence }}\n")
    result = project.run(project.config(card_template=str(template)), dryrun=True)
    assert not result.ok and result.jobs == []
    assert "'licence' is not defined" in result.error and str(template) in result.error


def empty_gene_list_layout(project) -> list[str]:
    """train: two chunks; four cells of chunk_0 express no gene. Returns their ids."""
    layout = two_split_layout()
    paths = project.write(layout)
    adata = make_adata(layout["train"][0])
    matrix = adata.X.tolil()
    matrix[[3, 10, 11, 50]] = 0
    matrix = matrix.tocsr()
    matrix.eliminate_zeros()
    adata.X = matrix
    import shutil

    shutil.rmtree(paths["train"][0])
    adata.write_zarr(paths["train"][0])
    return [adata.obs_names[i] for i in (3, 10, 11, 50)]


def test_cells_without_a_gene_list_are_kept_and_reported_dropped_or_fatal(project, capfd):
    empty = empty_gene_list_layout(project)
    keys = {"sentence_keys": ["sample_id_og", "cell_sentence"], "cs_length": 8}

    keep = project.config(**keys)
    result = project.run(keep)
    assert result.ok, result.logs
    out = project.output_path(keep)
    frame = datasets.load_from_disk(str(out))["train"].to_pandas().set_index("sample_idx")
    assert (frame.loc[empty, "cell_sentence_2"] == "").all() and len(frame) == 240
    warning = next(
        w
        for w in json.loads((out / "summary.json").read_text())["warnings"]
        if "empty gene list" in w
    )
    assert warning.startswith("train: 4 cell(s) have an empty gene list") and empty[0] in warning
    assert (
        "## Warnings" in (out / "README.md").read_text()
        and warning in (out / "README.md").read_text()
    )
    assert warning in capfd.readouterr().err  # on the console at the end of the run

    drop = project.config(on_empty_sentence="drop", **keys)
    result = project.run(drop)
    assert result.ok, result.logs
    frame = datasets.load_from_disk(str(out))["train"].to_pandas()
    assert len(frame) == 236 and not set(empty) & set(frame["sample_idx"])
    negatives = frame[["negative_1_idx", "negative_2_idx"]].to_numpy().ravel()
    assert not set(empty) & set(negatives), "a dropped cell is a negative"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["splits"]["train"]["dropped"]["empty_sentence"] == 4

    before = snapshot(out)
    result = project.run(project.config(on_empty_sentence="error", **keys))
    assert not result.ok
    assert "train/chunk_0: 4" in result.logs and empty[0] in result.logs
    assert "on_empty_sentence" in result.logs
    assert snapshot(out) == before


def test_settings_that_change_nothing_or_little_rerun_only_that(project):
    project.write(two_split_layout())
    config = project.config(sentence_keys=["sample_id_og", "cell_sentence"])
    assert project.run(config).ok
    plan = project.run(
        project.config(sentence_keys=["sample_id_og", "cell_sentence"], row_block_size=17),
        dryrun=True,
    )
    assert plan.ok and plan.jobs == [], plan.rules()
    plan = project.run(
        project.config(sentence_keys=["sample_id_og", "cell_sentence"], on_missing_caption="error"),
        dryrun=True,
    )
    assert plan.ok and set(plan.rules()) <= {"check_inputs", "build_dataset", "all"}, plan.rules()


def test_a_rerun_after_ctrl_c_finishes_with_the_same_dataset(project, tmp_path):
    """The README's command, interrupted while jobs run, then typed again."""
    project.write(two_split_layout())
    config = project.config(sentence_keys=["sample_id_og", "cell_sentence"])
    configfile = tmp_path / "my.yaml"
    configfile.write_text(yaml.safe_dump(config))
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--cores", "2", "--configfile", str(configfile)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO / "workflow" / "lib")}

    reference = tmp_path / "reference"
    reference.mkdir()
    subprocess.run([*command, "-d", str(reference)], check=True, capture_output=True, env=env)

    work = project.workdir
    run = subprocess.Popen(
        [*command, "-d", str(work)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env
    )
    gate = work / "results" / "validate" / "toy" / "inputs_ok.json"
    deadline = time.monotonic() + 120
    while not gate.exists():  # interrupted once the per-chunk work has started
        assert run.poll() is None, run.stdout.read().decode()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    run.send_signal(signal.SIGINT)
    interrupted = run.communicate(timeout=120)[0].decode()
    assert run.returncode != 0, interrupted

    again = subprocess.run([*command, "-d", str(work)], capture_output=True, text=True, env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    name = project.output_path(config).relative_to(work)
    assert snapshot(work / name / "train") == snapshot(reference / name / "train")
    assert snapshot(work / name / "val") == snapshot(reference / name / "val")
