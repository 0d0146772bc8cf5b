"""The SLURM profile without a cluster: how it reads the environment, and a dry run on a
machine without any SLURM command (a laptop, CI without root).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .support import (
    CHUNKS,
    EXAMPLE_DATA,
    LOCAL_RULES,
    NAME,
    PROFILE,
    REMOTE_JOBS,
    REPO,
    SnakemakeOutput,
    clean_env,
    snakemake_args,
    write_paths_config,
)


def test_there_is_no_default_profile():
    # Snakemake auto-loads profiles/default/ and lets it replace keys of --profile.
    assert not (REPO / "profiles" / "default").exists()
    assert (PROFILE / "config.yaml").is_file()


def _parse_profile(monkeypatch, env: dict[str, str]) -> dict:
    from snakemake.profiles import ProfileConfigFileParser

    for name in ("SLURM_PARTITION", "SBATCH_PARTITION", "SLURM_ACCOUNT", "SBATCH_ACCOUNT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    text = (PROFILE / "config.yaml").read_text()
    stream = io.StringIO(text)
    stream.name = str(PROFILE / "config.yaml")
    parsed = ProfileConfigFileParser().parse(stream)
    resources = dict(item.split("=", 1) for item in parsed["default-resources"])
    return {"parsed": parsed, "resources": resources}


@pytest.mark.parametrize(
    ("env", "partition", "account"),
    [
        ({"SLURM_PARTITION": "gpu-a100", "SLURM_ACCOUNT": "lab42"}, "gpu-a100", "lab42"),
        # sbatch's own variables are the fallback
        ({"SBATCH_PARTITION": "short", "SBATCH_ACCOUNT": "p_123"}, "short", "p_123"),
        (
            {"SLURM_PARTITION": "long", "SBATCH_PARTITION": "short", "SBATCH_ACCOUNT": "x"},
            "long",
            "x",
        ),
        # unset or empty: '' -> the plugin takes sinfo's default partition, sbatch gets no -A
        # (SLURM charges the user's default account); see test_slurm.py for a real submission
        ({}, "", ""),
        ({"SLURM_PARTITION": " ", "SLURM_ACCOUNT": ""}, "", ""),
        # names that look like numbers or Python stay strings
        ({"SLURM_PARTITION": "2024", "SLURM_ACCOUNT": "input"}, "2024", "input"),
    ],
)
def test_partition_and_account_come_from_the_environment(monkeypatch, env, partition, account):
    from snakemake.resources import Resource

    profile = _parse_profile(monkeypatch, env)
    resources = profile["resources"]

    def evaluate(name):
        # exactly how Snakemake evaluates a --default-resources value
        return Resource.cli_evaluator(
            name, resources[name], wildcards={}, input=[], attempt=1, async_run=None
        )

    assert evaluate("slurm_partition") == partition
    assert evaluate("slurm_account") == account
    assert profile["parsed"]["executor"] == "slurm"
    # never a status command in the profile: sacct is the plugin's default
    assert "slurm-status-command" not in profile["parsed"]


SLURM_TOOLS = {
    "sacct", "sacctmgr", "salloc", "sattach", "sbatch", "sbcast", "scancel", "scontrol",
    "scrontab", "sdiag", "sinfo", "sprio", "squeue", "sreport", "srun", "sshare", "sstat",
    "strigger", "sview", "slurmctld", "slurmd", "slurmdbd", "slurmstepd",
}  # fmt: skip


def _no_slurm_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """This machine as if SLURM were not installed: a PATH of links to every command
    except SLURM's, no SLURM variable, no slurm.conf."""
    bindir = tmp_path / "bin-without-slurm"
    bindir.mkdir(exist_ok=True)
    dirs = [str(Path(sys.executable).parent), *os.environ.get("PATH", "").split(os.pathsep)]
    for directory in dirs:
        if not os.path.isdir(directory):
            continue
        for entry in os.scandir(directory):
            link = bindir / entry.name
            if entry.name not in SLURM_TOOLS and not link.exists() and not link.is_symlink():
                link.symlink_to(entry.path)
    env = clean_env(PATH=str(bindir), **extra)
    env["SLURM_CONF"] = str(tmp_path / "no-such-slurm.conf")
    for tool in SLURM_TOOLS:
        assert shutil.which(tool, path=env["PATH"]) is None, tool
    return env


def test_dry_run_without_slurm(tmp_path):
    """`snakemake --profile profiles/slurm -n` plans every job without any SLURM command;
    memory follows each chunk's size on disk."""
    data = tmp_path / "data"
    shutil.copytree(EXAMPLE_DATA, data)
    chunk_dir = data / "processed_with_emb" / "train" / NAME / "train"
    # make train/chunk_1 2 GiB bigger on disk (a sparse file: no space used)
    with open(chunk_dir / "chunk_1.zarr" / "padding.bin", "wb") as handle:
        handle.truncate(2 * 2**30)
    workdir = tmp_path / "work"
    workdir.mkdir()
    write_paths_config(workdir, data)

    result = subprocess.run(
        snakemake_args(workdir, "--dry-run"),
        cwd=workdir,
        env=_no_slurm_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout
    out = SnakemakeOutput.parse(result.stdout)
    # (a dry run prints local jobs as "rule", not "localrule")
    planned = {(b.rule, b.label) for b in out.blocks if b.rule != "all"}
    assert {job for job in planned if job[0] not in LOCAL_RULES} == REMOTE_JOBS
    assert {rule for rule, _ in planned} >= LOCAL_RULES
    assert not (workdir / "results").exists()

    by_job = {(b.rule, b.label): b.resources for b in out.blocks}
    for rule, label in REMOTE_JOBS:
        resources = by_job[(rule, label)]
        assert resources["slurm_partition"] == "", (rule, label, resources)
        assert resources["slurm_account"] == ""
    # per-chunk rules: a floor, plus so much per GB of the chunk
    small = by_job[("cell_sentences", "train/chunk_0")]
    big = by_job[("cell_sentences", "train/chunk_1")]
    assert int(small["mem_mb"]) >= 1000
    assert int(big["mem_mb"]) >= int(small["mem_mb"]) + 1500
    assert int(big["runtime"]) > int(small["runtime"])
    assert int(by_job[("validate_chunk", "train/chunk_1")]["mem_mb"]) > int(
        by_job[("validate_chunk", "train/chunk_0")]["mem_mb"]
    )
    # rules whose inputs are made by the run are sized when they are submitted
    assert by_job[("write_shard", "val/chunk_0")]["mem_mb"] == "<TBD>"
    assert {c for _, c in CHUNKS} == {"chunk_0", "chunk_1"}


def test_dry_run_shows_partition_and_account_from_the_environment(tmp_path):
    workdir = tmp_path / "work"
    workdir.mkdir()
    write_paths_config(workdir)
    env = _no_slurm_env(tmp_path, SLURM_PARTITION="gpu", SLURM_ACCOUNT="lab42")
    result = subprocess.run(
        snakemake_args(workdir, "--dry-run", "--until", "validate_chunk"),
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout
    out = SnakemakeOutput.parse(result.stdout)
    jobs = [b for b in out.blocks if b.rule == "validate_chunk"]
    assert len(jobs) == len(CHUNKS)
    for block in jobs:
        assert block.resources["slurm_partition"] == "gpu"
        assert block.resources["slurm_account"] == "lab42"


def test_profile_installed_by_name(tmp_path):
    """`make install-slurm-profile` links profiles/slurm to ~/.config/snakemake/slurm; then
    `snakemake --profile slurm` finds it from any directory."""
    home = tmp_path / "home"
    (home / ".config" / "snakemake").mkdir(parents=True)
    (home / ".config" / "snakemake" / "slurm").symlink_to(PROFILE)
    workdir = tmp_path / "work"
    workdir.mkdir()
    write_paths_config(workdir)
    args = snakemake_args(workdir, "--dry-run", "--until", "validate_chunk")
    args[args.index(str(PROFILE))] = "slurm"
    env = _no_slurm_env(tmp_path, HOME=str(home), SLURM_PARTITION="gpu")
    env.pop("XDG_CONFIG_HOME", None)
    result = subprocess.run(
        args,
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout
    assert "Using profile slurm" in result.stdout
    out = SnakemakeOutput.parse(result.stdout)
    assert {b.resources["slurm_partition"] for b in out.blocks if b.rule == "validate_chunk"} == {
        "gpu"
    }
