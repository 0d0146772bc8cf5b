"""Glue for the thin ``script:`` files: logging to the job's log, clear failures."""

from __future__ import annotations

import json
import logging
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._files import atomic_path

USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, FileNotFoundError, OSError, KeyError)
"""Errors that describe bad input or configuration: shown as one message, no traceback noise."""


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
    """Run one workflow step with logging set up; exit 1 with the message on a user error."""
    log = setup_logging(snakemake.log[0] if len(snakemake.log) else None)
    try:
        step(snakemake, log)
    except USER_ERRORS as error:
        log.error("%s", error)
        log.info("details for a bug report:", exc_info=True)
        sys.exit(1)
    except Exception:
        log.exception("unexpected failure in rule %s", snakemake.rule)
        raise


def write_json(path: str | Path, payload: Any) -> None:
    """Write JSON atomically (a killed job leaves no half-written file)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str))


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())
