"""The layers' arrows point one way, the CLI's fast path stays light, Dagster's
internals stay behind their one adapter, and the tests' fast layer stays light.

cli and dagster_defs use steps and instance; steps use domain, incremental and io; domain
imports nothing of the package (it holds SPEC and nothing of processes, sensors or caches);
settings (the table of every setting) sits just above it, below everything that reads a
setting; the public pandas readers (`data.py`) use the domain and settings alone, so a
backtest never imports Dagster through them.
Everything of Dagster beyond its public API (a `dagster._` import, a tag or metadata name
Dagster owns) is in `instance/dagster_internals/`, and its `dagster._` imports in one
module of it.

The tests have the same layers: the fast one (`make test-fast`: domain, incremental, io,
steps, data) tests the rules and the machinery without Dagster; dagster/ and instance/
need an instance, cli/ and e2e/ start the CLI or `dagster dev`.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
PACKAGE = PROJECT / "portfolio_assets"

# What each layer may import from the package (besides itself).
ALLOWED = {
    "domain": set(),
    "settings": {"domain"},
    "io": {"domain", "settings"},  # parallel reads the worker setting, progress its switch
    "incremental": {"domain", "io"},
    "steps": {"domain", "settings", "incremental", "io"},
    "instance": {"domain", "settings", "incremental", "io", "steps"},
    "dagster_defs": {"domain", "settings", "incremental", "io", "steps", "instance"},
    "cli": {"domain", "settings", "incremental", "io", "steps", "instance", "dagster_defs", "definitions", "dev"},
    "dev": set(),
    "data": {"domain", "settings"},
}


def _imported_layers(path: Path) -> set[str]:
    """The top-level parts of the package that the module at `path` imports (anywhere in it)."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    package = parts[:-1]  # the package a relative import starts from
    found: set[str] = set()
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


ADAPTER = PACKAGE / "instance" / "dagster_internals"
# The one module of the adapter that imports Dagster's private modules.
ADAPTER_IMPORTS = ADAPTER / "library.py"
# Dagster's private modules (its own, and the library it shares with its other packages).
PRIVATE_MODULES = ("dagster._", "dagster_shared")
# How names Dagster owns start: tags and metadata keys ("dagster/data_version"), hidden
# tags (".dagster/grpc_info"), and private module paths given as text.
DAGSTER_NAMES = ("dagster/", ".dagster", "dagster._")


def _dagster_internals(path: Path) -> tuple[list[str], list[str]]:
    """(private imports, Dagster-owned names in string literals) of the module at `path`,
    each as "line N: what"."""
    imports, names = [], []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id in ("dg", "dagster") and node.attr.startswith("_"):
                imports.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith(DAGSTER_NAMES):
            names.append(f"line {node.lineno}: {node.value!r}")
        private = [module for module in modules if module.startswith(PRIVATE_MODULES)]
        if private and isinstance(node, ast.Import | ast.ImportFrom):
            imports.append(f"line {node.lineno}: import {private[0]}")
    return imports, names


def test_dagster_internals_are_used_only_through_the_adapter() -> None:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.is_relative_to(ADAPTER):
            continue
        imports, names = _dagster_internals(path)
        if imports or names:
            found[str(path.relative_to(PACKAGE))] = imports + names
    assert not found, (
        "Dagster's internals outside portfolio_assets/instance/dagster_internals/ (import them, "
        f"or take the name, from the adapter): {found}"
    )


def test_one_module_of_the_adapter_imports_dagsters_private_modules() -> None:
    importing = [path.name for path in sorted(ADAPTER.glob("*.py")) if _dagster_internals(path)[0]]
    assert importing == [ADAPTER_IMPORTS.name]


def test_the_adapter_imports_nothing_of_the_project() -> None:
    """It wraps Dagster alone, so that an upgrade is one folder's work."""
    for path in sorted(ADAPTER.glob("*.py")):
        assert _imported_layers(path) <= {"instance"}, path.name
        tree = ast.parse(path.read_text(encoding="utf-8"))
        relative = [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level > 1]
        assert not relative, f"{path.name} imports from outside the adapter"


def _fast_layer() -> list[str]:
    """The test folders `make test-fast` runs (the Makefile's FAST_TESTS)."""
    makefile = (PROJECT / "Makefile").read_text(encoding="utf-8")
    found = re.search(r"^FAST_TESTS := ((?:.*\\\n)*.*)$", makefile, re.MULTILINE)
    assert found, "no FAST_TESTS in the Makefile"
    return found.group(1).replace("\\\n", " ").split()


WITHOUT_DAGSTER = ("-p", "portfolio_assets_tests.without_dagster")


def _collect_without_dagster(paths: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *WITHOUT_DAGSTER, *paths],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_fast_layer_imports_no_dagster() -> None:
    """Collecting the fast layer with Dagster unimportable (as `make test-fast` runs it)
    loads every conftest, test module and helper it imports, and pytest's warning filters."""
    folders = _fast_layer()
    assert {"domain", "incremental", "io", "steps", "data"} <= {Path(folder).name for folder in folders}
    done = _collect_without_dagster(folders)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-5000:]


def test_a_test_that_imports_dagster_fails_in_the_fast_layer() -> None:
    done = _collect_without_dagster(["portfolio_assets_tests/dagster/test_definitions.py"])
    assert done.returncode != 0
    assert "dagster imported in the fast layer (make test-fast runs without Dagster)" in done.stdout
