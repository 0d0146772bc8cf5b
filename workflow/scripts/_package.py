"""Make a job import the package of this checkout (``workflow/lib``), whatever is installed.

Snakemake appends the main process's ``sys.path`` to a script job's, after the job's own
site-packages: an installed copy of ``adata_hf_datasets`` (a ``pip install .`` made last month)
would win over the checkout's and silently run old code. Every script imports this module
first (Snakemake puts the scripts' folder on the job's path), which puts the checkout's
package in front.
"""

import sys
from pathlib import Path

LIB_DIR = str(Path(__file__).resolve().parents[1] / "lib")
if sys.path[:1] != [LIB_DIR]:
    sys.path.insert(0, LIB_DIR)
