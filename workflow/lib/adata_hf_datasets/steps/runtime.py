"""Glue for the thin ``script:`` files: logging to the job's log, clear failures."""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import AdataHfError

__all__ = ["run_step", "setup_logging"]


def setup_logging(log_path: str | Path | None) -> logging.Logger:
    """Send the package's log records (and warnings) to the job's log file, errors to stderr too."""
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(logging.INFO)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(log_path, mode="w")
        handler.setFormatter(formatter)
        root.addHandler(handler)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.ERROR)
    console.setFormatter(logging.Formatter("%(message)s"))
    root.addHandler(console)
    logging.captureWarnings(True)
    warnings.simplefilter("default")
    return logging.getLogger("adata_hf_datasets.job")


def run_step(snakemake: Any, step: Callable[[Any, logging.Logger], None]) -> None:
    """Run one workflow step with logging set up.

    A problem the user can fix (:class:`~adata_hf_datasets.errors.AdataHfError`) exits 1 with
    its message alone (the traceback goes to the job log, for a bug report); anything else is
    logged as an unexpected failure with its traceback.
    """
    log = setup_logging(snakemake.log[0] if len(snakemake.log) else None)
    log.info("adata-hf-datasets %s from %s", __version__, Path(__file__).parents[1])
    try:
        step(snakemake, log)
    except AdataHfError as error:
        log.error("%s", error)
        log.info("details for a bug report:", exc_info=True)
        sys.exit(1)
    except Exception:
        log.exception("unexpected failure in rule %s", snakemake.rule)
        raise
