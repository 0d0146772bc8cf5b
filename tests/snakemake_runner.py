"""Run the workflow in-process through Snakemake's Python API, as the tests need it."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "Snakefile"


@dataclass
class RunResult:
    ok: bool
    error: str = ""
    jobs: list[tuple[str, dict]] = field(default_factory=list)
    """(rule, wildcards) of every job scheduled (the jobs that ran, or would run in a dry run)."""
    logs: str = ""
    """Exception text plus the content of every job log under ``logs/``."""

    def rules(self) -> list[str]:
        return [rule for rule, _ in self.jobs]

    def count(self, rule: str) -> int:
        return self.rules().count(rule)


class _JobRecorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.jobs: list[tuple[str, dict]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if str(getattr(record, "event", "")) == "job_info":
            self.jobs.append((record.rule_name, dict(record.wildcards or {})))


def run_workflow(
    workdir: Path,
    config: dict,
    *,
    dryrun: bool = False,
    forcerun: tuple[str, ...] = (),
    cores: int = 2,
    targets: tuple[str, ...] = (),
    snakefile: Path = SNAKEFILE,
) -> RunResult:
    """Run (or dry-run) the workflow in ``workdir`` with ``config`` written as a config file
    (``snakefile``: another workflow's, e.g. one that uses this one as a module)."""
    from snakemake.api import SnakemakeApi
    from snakemake.scheduling.greedy import SchedulerSettings as GreedySettings
    from snakemake.settings.types import (
        ConfigSettings,
        DAGSettings,
        ExecutionSettings,
        OutputSettings,
        ResourceSettings,
        SchedulingSettings,
        StorageSettings,
    )

    workdir.mkdir(parents=True, exist_ok=True)
    configfile = workdir / "test-config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    recorder = _JobRecorder()
    snakemake_logger = logging.getLogger("snakemake")
    snakemake_logger.addHandler(recorder)
    result = RunResult(ok=True)
    try:
        with SnakemakeApi(OutputSettings(quiet=None)) as api:
            workflow = api.workflow(
                resource_settings=ResourceSettings(cores=cores),
                config_settings=ConfigSettings(configfiles=[configfile]),
                storage_settings=StorageSettings(),
                snakefile=snakefile,
                workdir=workdir,
            )
            dag = workflow.dag(
                DAGSettings(forcerun=frozenset(forcerun), targets=frozenset(targets))
            )
            dag.execute_workflow(
                executor="dryrun" if dryrun else "local",
                execution_settings=ExecutionSettings(latency_wait=1),
                # the ILP scheduler starts a solver per decision; greedy is instant here
                scheduling_settings=SchedulingSettings(scheduler="greedy"),
                scheduler_settings=GreedySettings(),
                greedy_scheduler_settings=GreedySettings(),
            )
    except BaseException as error:
        result.ok = False
        result.error = f"{type(error).__name__}: {error}"
    finally:
        snakemake_logger.removeHandler(recorder)
    result.jobs = recorder.jobs
    texts = [result.error]
    logs = workdir / "logs"
    if logs.is_dir():
        texts += [p.read_text(errors="replace") for p in sorted(logs.rglob("*.log"))]
    result.logs = "\n".join(texts)
    return result
