"""The layers' arrows point one way, and the CLI's fast path stays light.

cli and dagster_defs use steps and instance; steps use domain, incremental and io; domain
imports nothing of the package but its own modules (errors, settings); the public pandas
readers (`data.py`) use the domain alone, so a backtest never imports Dagster through them.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "portfolio_assets"

# What each layer may import from the package (besides itself).
ALLOWED = {
    "domain": set(),
    "io": {"domain"},  # parallel reads the worker setting
    "incremental": {"domain", "io"},
    "steps": {"domain", "incremental", "io"},
    "instance": {"domain", "incremental", "io", "steps"},
    "dagster_defs": {"domain", "incremental", "io", "steps", "instance"},
    "cli": {"domain", "incremental", "io", "steps", "instance", "dagster_defs", "definitions", "dev"},
    "dev": set(),
    "data": {"domain"},
}


def _imported_layers(path: Path) -> set[str]:
    """The top-level parts of the package that the module at `path` imports (anywhere in it)."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    package = parts[:-1]  # the package a relative import starts from
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = (*base, *(node.module.split(".") if node.module else ()))
                names = [(*target, alias.name) for alias in node.names] if len(target) == 1 else [target]
            elif node.module and node.module.split(".")[0] == "portfolio_assets":
                names = [tuple(node.module.split("."))]
            else:
                continue
        elif isinstance(node, ast.Import):
            names = [
                tuple(alias.name.split(".")) for alias in node.names if alias.name.split(".")[0] == "portfolio_assets"
            ]
        else:
            continue
        found.update(name[1] for name in names if len(name) > 1)
    return found


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_a_layer_imports_only_the_layers_below_it(layer: str) -> None:
    module = PACKAGE / f"{layer}.py"
    paths = [module] if module.is_file() else sorted((PACKAGE / layer).rglob("*.py"))
    assert paths, f"no module in layer {layer}"
    for path in paths:
        wrong = _imported_layers(path) - ALLOWED[layer] - {layer}
        assert not wrong, f"{path.relative_to(PACKAGE)} imports {sorted(wrong)}"


def test_the_fast_path_imports_neither_dagster_nor_the_price_reader() -> None:
    code = (
        "import sys\nimport portfolio_assets.cli.main, portfolio_assets.cli.fast_path, "
        "portfolio_assets.steps.registry, portfolio_assets.domain.stooq_tree, portfolio_assets.io.locking\n"
        "print(sorted(name for name in ('dagster', 'pyarrow', 'numpy') if name in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
