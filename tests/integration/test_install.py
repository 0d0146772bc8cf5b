"""Installed the ordinary way: a wheel built from the checkout works on its own (its data files
are inside it), and the workflow runs the checkout's package even when another copy of the
package is installed in the environment (a stale ``pip install .``).

The fresh environment gets the project's dependencies from the test environment (a path entry
to its site-packages, which does not activate the test environment's editable install), so the
test does not download them again; the package itself is installed from the wheel, as a user's
``pip install .`` installs it.
"""

from __future__ import annotations

import os
import re
import shutil
import site
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from ..snakemake_runner import REPO

pytestmark = pytest.mark.integration

STALE_VERSION = "0.0.1+stale"


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900, **kwargs)
    assert result.returncode == 0, f"{cmd}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def fresh_env(tmp_path_factory) -> Path:
    """A new venv with the wheel of the checkout installed (not editable)."""
    root = tmp_path_factory.mktemp("install")
    # What a wheel is built from, copied (the build leaves its build/ folder in the source)
    source = root / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(REPO / "workflow" / "lib", source / "workflow" / "lib", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    dist = root / "dist"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(source)])
    wheel = next(dist.glob("adata_hf_datasets-*.whl"))
    venv = root / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    purelib = run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
    # The dependencies, from this environment's site-packages (a plain path entry: its .pth
    # files, the editable install among them, are not run).
    Path(purelib.stdout.strip(), "test-deps.pth").write_text(site.getsitepackages()[0] + "\n")
    run([str(python), "-m", "pip", "install", "--no-deps", "-q", str(wheel)])
    return venv


def test_a_wheel_of_the_checkout_renders_the_default_card(fresh_env: Path, tmp_path: Path):
    code = textwrap.dedent(
        """
        import datasets
        import adata_hf_datasets
        from adata_hf_datasets.publish.card import default_template_path, render_card
        from adata_hf_datasets.publish.card_variables import card_variables
        from adata_hf_datasets.records import CardSettings

        features = datasets.Features({n: datasets.Value("string") for n in
                                      ["sample_idx", "cell_sentence_1", "adata_link"]})
        rows = {"train": 3}
        card = CardSettings(
            dataset_name="atlas", dataset_format="single", caption_key=None,
            sentence_keys=("sample_id_og",), negatives_per_sample=0, resolve_negatives=False,
            cs_length=64, use_nextcloud=False)
        variables = card_variables(
            card, repo_id="org/atlas", features=features, split_rows=rows, embeddings=["X_pca"],
            negative_levels={}, example_row=None)
        text = render_card(template_path=default_template_path(), variables=variables,
                           features=features, split_rows=rows)
        print(adata_hf_datasets.__file__)
        print(default_template_path())
        print(text)
        """
    )
    result = run([str(fresh_env / "bin" / "python"), "-c", code], cwd=tmp_path)
    package, template, card = result.stdout.split("\n", 2)
    assert package.startswith(str(fresh_env)), package  # the wheel's copy, not the checkout
    assert template.startswith(str(fresh_env)) and template.endswith("dataset_card.md.j2")
    assert card.startswith("---\n") and "# atlas" in card and "org/atlas" in card


def test_the_workflow_runs_the_checkouts_package_over_a_stale_install(
    fresh_env: Path, tmp_path: Path
):
    # The installed copy is an older version (its files edited in place): the jobs must not
    # run it.
    python = str(fresh_env / "bin" / "python")
    installed = run([python, "-c", "import adata_hf_datasets as p; print(p.__file__)"])
    init = Path(installed.stdout.strip())
    assert init.is_relative_to(fresh_env)
    text = init.read_text()
    init.write_text(re.sub(r'__version__ = ".*"', f'__version__ = "{STALE_VERSION}"', text))

    config = yaml.safe_load((REPO / "config" / "example.yaml").read_text())
    config["base_file_path"] = str(REPO / config["base_file_path"])
    (tmp_path / "my.yaml").write_text(yaml.safe_dump(config))
    work = tmp_path / "work"
    snakemake = [python, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(work)]
    run([*snakemake, "--cores", "2", "--configfile", str(tmp_path / "my.yaml")])

    out = work / "data/hf_datasets/pbmc68k_reduced_multiplets_natural_language_annotation"
    assert (out / "README.md").read_text().startswith("---\n")
    assert (out / "dataset_dict.json").is_file()
    lib = REPO / "workflow" / "lib"
    logs = sorted((work / "logs").rglob("*.log"))
    assert logs
    for log in logs:
        first = log.read_text().splitlines()[0]
        assert f"from {lib}" in first and STALE_VERSION not in first, (log, first)
