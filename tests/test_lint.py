"""The checks users and CI apply: Snakemake's linter, snakefmt and ruff all pass."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import need

REPO = Path(__file__).resolve().parents[1]


def run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)


def tool(name: str) -> str | None:
    """The tool installed beside this interpreter (``make test`` does not activate the venv),
    else the one on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() else shutil.which(name)


def test_snakemake_lint():
    result = run(sys.executable, "-m", "snakemake", "--lint", "--configfile", "config/example.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_snakefmt_check():
    snakefmt = tool("snakefmt")
    need(snakefmt is not None, "snakefmt is not installed (pip install -e '.[test]')")
    result = run(snakefmt, "--check", "Snakefile", "workflow/rules")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("command", [("check",), ("format", "--check")])
def test_ruff(command):
    ruff = tool("ruff")
    need(ruff is not None, "ruff is not installed (pip install -e '.[test]')")
    result = run(ruff, *command, ".")
    assert result.returncode == 0, result.stdout + result.stderr
