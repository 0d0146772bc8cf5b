"""The package's layout holds: lower layers never import higher ones, and no module imports a
private name of another (the layers are declared in pyproject.toml, [tool.importlinter])."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from .conftest import need
from .test_lint import REPO, tool

PACKAGE = REPO / "workflow" / "lib" / "adata_hf_datasets"


def test_lower_layers_never_import_higher_ones():
    lint_imports = tool("lint-imports")
    need(lint_imports is not None, "import-linter is not installed (pip install -e '.[test]')")
    result = subprocess.run(
        [lint_imports], cwd=REPO, capture_output=True, text=True, timeout=300,
        env={"PYTHONPATH": str(PACKAGE.parent), "PATH": str(Path(sys.executable).parent)},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def test_no_module_imports_a_private_name_of_another():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            source = _resolve(module, node, path.name == "__init__.py")
            if not source.startswith("adata_hf_datasets") or source == module:
                continue
            private = [
                a.name for a in node.names if a.name.startswith("_") and a.name != "__version__"
            ]
            offenders += [f"{path.relative_to(REPO)}:{node.lineno} {source}.{n}" for n in private]
    assert offenders == []
