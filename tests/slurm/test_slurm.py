"""The bundled example on a real one-node SLURM cluster, through profiles/slurm.

The cluster (munged, MariaDB, slurmdbd, slurmctld, slurmd) is started once per session by
tests/cluster/start_slurm.sh and stopped by tests/cluster/stop_slurm.sh, also when a test
fails. Needs root; the start script installs the SLURM packages with apt-get when they are
missing, which only happens in CI (CI=true): elsewhere the tests skip without SLURM.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..conftest import IN_CI, need
from .support import (
    CHUNKS,
    CLUSTER_SCRIPTS,
    DATASET,
    EXAMPLE_CONFIG,
    LOCAL_RULES,
    NAME,
    REMOTE_JOBS,
    REPO,
    SnakemakeOutput,
    clean_env,
    snakemake_args,
    write_paths_config,
)

pytestmark = pytest.mark.slurm

# The plugin waits this long before its first status check (default 40 s).
FAST_STATUS = ("--slurm-init-seconds-before-status-checks", "1", "--latency-wait", "5")
SLURM_DAEMONS = ("sbatch", "sacct", "sacctmgr", "slurmctld", "slurmd", "slurmdbd", "munged")


@dataclass
class Cluster:
    state_dir: Path
    env: dict[str, str]
    """SLURM_CONF and the SLURM_CI_* variables of the started cluster."""

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            args,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=30,
            check=check,
            stdin=subprocess.DEVNULL,
        )

    def sacct(self, job_ids: list[int], fields: str) -> dict[int, dict[str, str]]:
        """sacct's view of the given allocations (no steps), by job id."""
        names = fields.split(",")
        out = self.run(
            "sacct", "-X", "-P", "-n", "-j", ",".join(map(str, job_ids)), "--format", fields
        ).stdout
        rows = {}
        for line in out.splitlines():
            values = dict(zip(names, line.split("|"), strict=True))
            rows[int(values["JobID"])] = values
        return rows

    def sacct_final(self, job_ids: list[int], fields: str, timeout: float = 30) -> dict:
        """sacct rows once every job is recorded in a final state with its name and partition
        (just after a job ends, sacct may show it as 'allocation' without a partition)."""
        fields = ",".join(
            dict.fromkeys(["JobID", "JobName", "State", "Partition", *fields.split(",")])
        )
        deadline = time.monotonic() + timeout
        while True:
            rows = self.sacct(job_ids, fields)
            done = len(rows) == len(set(job_ids)) and all(
                r["State"].split()[0]
                in ("COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "OUT_OF_MEMORY")
                and r["JobName"] != "allocation"
                and r["Partition"]
                for r in rows.values()
            )
            if done or time.monotonic() > deadline:
                return rows
            time.sleep(0.5)


def _slurm_installed() -> bool:
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    return all(shutil.which(tool, path=path) for tool in SLURM_DAEMONS)


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[Cluster]:
    need(os.geteuid() == 0, "starting a SLURM cluster (tests/cluster/start_slurm.sh) needs root")
    # in CI the start script installs slurm-wlm, slurmdbd, munge and mariadb-server itself
    need(IN_CI or _slurm_installed(), "SLURM is not installed (CI=true installs it with apt-get)")
    conf = Path("/etc/slurm/slurm.conf")
    need(
        not conf.exists() or conf.is_symlink(),
        "/etc/slurm/slurm.conf is a real file: this machine has its own SLURM",
    )
    # Not pytest's tmp_path: munge and mysql must be able to enter the state directory.
    state = Path(tempfile.mkdtemp(prefix="slurm-ci.", dir="/tmp"))
    stop = [str(CLUSTER_SCRIPTS / "stop_slurm.sh"), str(state)]
    try:
        started = subprocess.run(
            [str(CLUSTER_SCRIPTS / "start_slurm.sh"), str(state)],
            capture_output=True,
            text=True,
            timeout=600,
            stdin=subprocess.DEVNULL,
        )
        if started.returncode != 0:
            pytest.fail(f"start_slurm.sh failed:\n{started.stdout}\n{started.stderr}")
        env = dict(re.findall(r"^export (\w+)=(.*)$", (state / "env.sh").read_text(), re.M))
        yield Cluster(state, env)
    finally:
        stopped = subprocess.run(stop, capture_output=True, text=True, timeout=300)
        if stopped.returncode == 0:
            shutil.rmtree(state, ignore_errors=True)
        else:  # keep the logs for a look
            print(f"stop_slurm.sh failed, state kept in {state}:\n{stopped.stdout}{stopped.stderr}")


@pytest.fixture
def workdir() -> Iterator[Path]:
    # under /tmp like a shared scratch folder; pytest's tmp_path would do as well (jobs run
    # as the same user here)
    path = Path(tempfile.mkdtemp(prefix="slurm-run.", dir="/tmp"))
    yield path
    if os.environ.get("SLURM_TEST_KEEP"):
        print(f"kept {path}")
    else:
        shutil.rmtree(path, ignore_errors=True)


def _venv_without_the_package(root: Path) -> str:
    """A venv that sees this interpreter's dependencies (Snakemake, anndata, ...) but not the
    editable install of adata_hf_datasets: like a venv on a shared file system in which the
    package was never pip-installed. Jobs on the nodes must import it from workflow/lib."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    deps = subprocess.run(
        [sys.executable, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # a .pth line adds the directory, but .pth files inside it (the editable install's) are
    # not processed
    Path(purelib, "dependencies.pth").write_text(deps + "\n")
    probe = subprocess.run(
        [str(python), "-c", "import adata_hf_datasets"],
        capture_output=True,
        env=clean_env(),
        cwd=root,
    )
    assert probe.returncode != 0, "adata_hf_datasets importable without workflow/lib"
    return str(python)


class KillOnce(threading.Thread):
    """Kills the first SLURM job of one (rule, wildcards) while it runs, after leaving a
    half-written file at its output, as a job killed on a node while writing would leave it.
    The job's processes get SIGKILL, like the kernel's OOM killer on a node without cgroups:
    SLURM records the job as FAILED (exit 0:9). Test side only: squeue, scontrol, kill.

    (Not scancel: plugin 2.8.0 reads sacct's "CANCELLED by <uid>" as still running and waits
    for ever.)
    """

    def __init__(self, cluster: Cluster, rule: str, split: str, chunk: str, outputs: list[Path]):
        super().__init__(daemon=True)
        self.cluster = cluster
        self.comment = f"rule_{rule}_wildcards_{split}_{chunk}"
        self.outputs = outputs
        self.killed: int | None = None
        self.cmdlines: list[str] = []
        self.error = ""
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            queue = self.cluster.run("squeue", "-h", "-o", "%i|%T|%k", check=False).stdout
            for line in queue.splitlines():
                job_id, state, comment = line.split("|", 2)
                if comment == self.comment and state == "RUNNING" and self._kill(int(job_id)):
                    return
            time.sleep(0.1)

    def _kill(self, job_id: int) -> bool:
        """Spoil the job's output and kill its processes; False (job resumed, try again) when
        SLURM lists no process of it yet (the batch step is still starting)."""
        # Freeze it first (SIGSTOP): nothing of the job writes while the output is spoiled.
        frozen = self.cluster.run("scontrol", "suspend", str(job_id), check=False)
        if frozen.returncode != 0:
            self.error = f"could not suspend job {job_id} (finished already?): {frozen.stderr}"
            return True
        listed = self.cluster.run("scontrol", "listpids", str(job_id), check=False)
        pids = [int(line.split()[0]) for line in listed.stdout.splitlines()[1:] if line.split()]
        if listed.returncode != 0 or not pids:
            self.cluster.run("scontrol", "resume", str(job_id), check=False)
            return False
        for path in self.outputs:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"ARROW1\x00\x00half-written by a job that was killed")
        for pid in pids:
            with contextlib.suppress(OSError):
                raw = Path(f"/proc/{pid}/cmdline").read_bytes()
                self.cmdlines.append(raw.replace(b"\0", b" ").decode().strip())
        for pid in pids:  # the job's own processes, by id
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.killed = job_id
        return True

    def stop(self) -> None:
        self._done.set()
        self.join(timeout=10)


_STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _stop_leftover_snakemakes(workdir) -> Iterator[None]:
    """A failed test leaves no Snakemake behind (Ctrl-C first: it cancels its SLURM jobs);
    stopped before ``workdir`` goes."""
    yield
    while _STARTED:
        process = _STARTED.pop()
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _start(args: list[str], cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    handle = open(log, "w")  # noqa: SIM115 - closed with the process below
    process = subprocess.Popen(
        args, cwd=cwd, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )
    process.log_handle = handle  # type: ignore[attr-defined]
    _STARTED.append(process)
    return process


def _finish(process: subprocess.Popen, timeout: float) -> int:
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)  # Snakemake cancels its SLURM jobs
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
        raise
    finally:
        process.log_handle.close()  # type: ignore[attr-defined]


def _snakemake_key(output: str) -> str:
    return base64.urlsafe_b64encode(output.encode()).decode()


def _incomplete_marker(workdir: Path, output: str) -> Path:
    """Where Snakemake marks ``output`` (as the rule names it) incomplete while its job runs."""
    return workdir / ".snakemake" / "incomplete" / _snakemake_key(output)


def _first_output(rule: str, label: str) -> str:
    return {
        "validate_chunk": f"results/validate/{NAME}/{label}.arrow",
        "check_inputs": f"results/validate/{NAME}/inputs_ok.json",
        "split_index": f"results/index/{NAME}/{label}.arrow",
        "index_split_embedding": f"results/embedding/{NAME}/{label}.vectors.npy",
        "measure_negative_quality": f"results/negative_quality/{NAME}/{label}.json",
        "cell_sentences": f"results/sentences/{NAME}/{label}.arrow",
        "sample_negatives": f"results/negatives/{NAME}/{label}.arrow",
        "write_shard": f"results/shards/{NAME}/{label}.arrow",
    }[rule]


def _recorded_as_done(workdir: Path) -> set[tuple[str, str]]:
    """The jobs a rerun trusts as done: their output exists and is not marked incomplete.
    (Snakemake marks outputs incomplete when it submits a job, and so does the job's own
    Snakemake on the node when it starts; the marker goes when the job succeeds.)"""
    done = set()
    for rule, label in REMOTE_JOBS | {("check_inputs", "")}:
        output = _first_output(rule, label)
        if (workdir / output).exists() and not _incomplete_marker(workdir, output).exists():
            done.add((rule, label))
    return done


def _wait_for(condition, timeout: float, what: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"Snakemake exited ({process.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _dataset_files(workdir: Path) -> dict[str, bytes]:
    """Every file of the dataset and of results/, keyed by path relative to workdir, with the
    workdir's own path (absolute paths in summary.json and the split records) made neutral."""
    files = {}
    for root in (workdir / "results", workdir / "out" / DATASET):
        for path in sorted(root.rglob("*")):
            if path.is_file():
                data = path.read_bytes()
                if path.suffix in (".json", ".md", ".html"):
                    data = data.replace(str(workdir).encode(), b"<workdir>")
                files[str(path.relative_to(workdir))] = data
    return files


def _assert_same_files(slurm: dict[str, bytes], local: dict[str, bytes]) -> None:
    assert sorted(slurm) == sorted(local)
    different = [name for name in local if slurm[name] != local[name]]
    assert not different, f"differ between the SLURM and the local run: {different}"


def test_example_on_slurm_equals_a_local_run(slurm_cluster, workdir):
    """One interrupted and one resumed run of the example through profiles/slurm, from a venv
    without the package installed; a job is killed mid-run. Every per-chunk and per-split job
    is its own SLURM job, local rules stay local, nothing finished is redone, and the dataset
    is byte for byte the one a local run builds."""
    cluster = slurm_cluster
    slurm_dir, local_dir = workdir / "slurm", workdir / "local"
    for path in (slurm_dir, local_dir):
        path.mkdir()
        write_paths_config(path)

    # The local reference run (`make run`'s command); it starts while run 1 shuts down.
    local_run = functools.partial(
        _start,
        [
            sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
            "--directory", str(local_dir), "--cores", "2",
            "--configfile", str(EXAMPLE_CONFIG), str(local_dir / "paths.yaml"),
        ],
        local_dir,
        clean_env(),
        workdir / "local.log",
    )  # fmt: skip

    python = _venv_without_the_package(workdir / "venv")
    args = snakemake_args(slurm_dir, *FAST_STATUS, "--slurm-keep-successful-logs", python=python)
    # Run 1 without SLURM_PARTITION/SLURM_ACCOUNT: SLURM's defaults; run 2 names them.
    env1 = clean_env(**cluster.env)
    env2 = clean_env(
        **cluster.env,
        SLURM_PARTITION=cluster.env["SLURM_CI_PARTITION"],
        SLURM_ACCOUNT=cluster.env["SLURM_CI_ACCOUNT"],
    )

    # Run 1: interrupted (Ctrl-C) while the cell_sentences jobs run. Interrupt only once all
    # three are registered (Snakemake's incomplete markers are written): plugin 2.8.0 submits
    # in a thread, and a job whose submission is still in flight at Ctrl-C is neither
    # cancelled nor marked incomplete.
    first = _start(args, slurm_dir, env1, workdir / "slurm-1.log")
    markers = [
        _incomplete_marker(slurm_dir, f"results/sentences/{NAME}/{split}/{chunk}.arrow")
        for split, chunk in CHUNKS
    ]
    _wait_for(
        lambda: all(marker.exists() for marker in markers),
        180,
        "the cell_sentences jobs to be submitted",
        first,
    )
    first.send_signal(signal.SIGINT)
    local = local_run()
    assert _finish(first, 120) != 0
    run1 = SnakemakeOutput.parse((workdir / "slurm-1.log").read_text())
    assert "rule_sample_negatives" not in run1.text, "interrupted too late"
    # Ctrl-C cancels the run's SLURM jobs, except (snakemake-interface-executor-plugins
    # 9.4) those whose status is being checked at that moment: do what the README says,
    # cancel what is left of the run by its name (the run ID).
    cluster.run("scancel", "--name", run1.run_id)
    deadline = time.monotonic() + 30
    while cluster.run("squeue", "-h", "-n", run1.run_id).stdout.strip():
        assert time.monotonic() < deadline, "SLURM jobs of the interrupted run still there"
        time.sleep(0.2)

    done1 = _recorded_as_done(slurm_dir)
    assert {("validate_chunk", f"{s}/{c}") for s, c in CHUNKS} | {("check_inputs", "")} <= done1
    assert not {rule for rule, _ in done1} & {"sample_negatives", "write_shard"}

    # Run 2: resumes; write_shard of train/chunk_0 is killed while it runs.
    shard = slurm_dir / "results" / "shards" / NAME / "train" / "chunk_0.arrow"
    killer = KillOnce(cluster, "write_shard", "train", "chunk_0", [shard])
    killer.start()
    second = _start(args, slurm_dir, env2, workdir / "slurm-2.log")
    try:
        rc = _finish(second, 300)
    finally:
        killer.stop()
    text2 = (workdir / "slurm-2.log").read_text()
    assert rc == 0, text2[-5000:]
    assert killer.error == ""
    assert killer.killed is not None, "the write_shard job was never seen running"
    run2 = SnakemakeOutput.parse(text2)

    # Nothing run 1 finished is redone, everything else is; all is recorded as done.
    submitted2 = {(rule, label) for rule, label, _ in run2.submitted_jobs()}
    assert not submitted2 & done1, f"finished in run 1 and submitted again: {submitted2 & done1}"
    assert ("check_inputs", "") not in run2.local_jobs()
    assert submitted2 == REMOTE_JOBS - done1
    assert run2.finished_jobs() >= submitted2
    assert _recorded_as_done(slurm_dir) == REMOTE_JOBS | {("check_inputs", "")}

    # Every per-chunk and per-split job is a SLURM job, each in its own allocation ...
    submissions = run1.submitted_jobs() + run2.submitted_jobs()
    remote1 = {(rule, label) for rule, label, _ in run1.submitted_jobs()}
    assert done1 - {("check_inputs", "")} <= remote1
    assert not {rule for rule, _, _ in submissions} & LOCAL_RULES
    ids = [job_id for _, _, job_id in submissions]
    assert len(ids) == len(set(ids))
    accounting = cluster.sacct_final(ids, "JobID,JobName,State,Partition,Account,ReqMem")
    assert set(accounting) == set(ids)
    for run in (run1, run2):
        for _, _, job_id in run.submitted_jobs():
            row = accounting[job_id]
            assert row["JobName"] == run.run_id
            # run 1: the default partition and root's default account; run 2: as named
            assert row["Partition"] == cluster.env["SLURM_CI_PARTITION"]
            assert row["Account"] == cluster.env["SLURM_CI_ACCOUNT"]
    assert "No SLURM account given" in run1.text  # the plugin guesses, then omits -A
    assert "No SLURM account given" not in run2.text
    for rule, label, job_id in run2.submitted_jobs():
        if job_id != killer.killed:
            assert accounting[job_id]["State"] == "COMPLETED", (rule, label, accounting[job_id])
    # ... whose SLURM log shows Snakemake running exactly that job on the node
    for jobid, slurm_id, log in run2.submitted:
        block = run2.job(jobid)
        assert log.name == f"{slurm_id}.log"
        assert log.is_relative_to(slurm_dir / ".snakemake" / "slurm_logs" / f"rule_{block.rule}")
        if slurm_id == killer.killed:
            continue  # killed before the job's Snakemake flushed its output
        text = log.read_text()
        assert f"--target-jobs {block.rule}:" in text
        assert "--executor slurm-jobstep" in text

    # ... and the local rules ran here, in the Snakemake on the login node.
    local_jobs = run1.local_jobs() + run2.local_jobs()
    assert {rule for rule, _ in local_jobs} - {"all"} == LOCAL_RULES
    assert not (slurm_dir / ".snakemake" / "slurm_logs" / "rule_check_inputs").exists()

    # The killed job: cleaned up, retried with twice the memory, done.
    shard_jobs = [
        j for r, lbl, j in run2.submitted_jobs() if (r, lbl) == ("write_shard", "train/chunk_0")
    ]
    assert shard_jobs[0] == killer.killed and len(shard_jobs) == 2, shard_jobs
    killed, retried = (accounting[j] for j in shard_jobs)
    assert killed["State"] == "FAILED"
    assert retried["State"] == "COMPLETED"
    mem = [int(re.match(r"(\d+)M", row["ReqMem"]).group(1)) for row in (killed, retried)]
    assert mem[1] >= 2 * mem[0], mem
    # Its spoiled output was removed (by the main Snakemake or by the job's own, whichever
    # noticed first) and made again by the retry.
    assert not shard.read_bytes().startswith(b"ARROW1\x00\x00half-written")
    assert (
        "--attempt 2"
        in next(log for _, sid, log in run2.submitted if sid == shard_jobs[1]).read_text()
    )
    # the job ran this venv's Python, which cannot import the package by itself
    assert any(cmd.startswith(f"{python} -m snakemake") for cmd in killer.cmdlines), killer.cmdlines

    # No half-written file is left looking complete, no incomplete marker is left behind.
    assert not list((slurm_dir / "results").rglob("*.partial"))
    incomplete = slurm_dir / ".snakemake" / "incomplete"
    assert not incomplete.exists() or not list(incomplete.iterdir())

    # The dataset is the local run's, byte for byte (every .arrow, json, card, parquet).
    assert _finish(local, 300) == 0, (workdir / "local.log").read_text()[-5000:]
    slurm_files, local_files = _dataset_files(slurm_dir), _dataset_files(local_dir)
    # per chunk: meta, sentences, negatives, shard and its dataset copy; per split: index,
    # pool, the embedding's cells
    splits = {split for split, _ in CHUNKS}
    arrow_files = sum(name.endswith(".arrow") for name in local_files)
    assert arrow_files == 5 * len(CHUNKS) + 3 * len(splits)
    _assert_same_files(slurm_files, local_files)


def test_a_partition_or_account_that_does_not_exist_is_a_clear_error(slurm_cluster, workdir):
    """(Unset variables: see run 1 of the test above, which uses the cluster's defaults.)"""
    cluster = slurm_cluster
    write_paths_config(workdir)
    target = f"results/validate/{NAME}/val/chunk_0.json"
    for variable, message in [
        ("SLURM_PARTITION", "invalid partition specified: no-such-thing"),
        ("SLURM_ACCOUNT", "The given account no-such-thing appears to be invalid"),
    ]:
        bad = subprocess.run(
            snakemake_args(workdir, *FAST_STATUS, target),
            cwd=workdir,
            env=clean_env(**cluster.env, **{variable: "no-such-thing"}),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=120,
        )
        assert bad.returncode != 0
        assert message in bad.stdout, bad.stdout[-3000:]
        assert not (workdir / target).exists()
