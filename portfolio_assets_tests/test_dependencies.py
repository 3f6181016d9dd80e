"""Every third-party module the package and its tests import is declared in pyproject.toml,
where a fresh install gets it: nothing arrives by chance as another package's dependency.

- The package's imports at module level: the main dependencies (`pip install .` must
  import every module).
- The package's imports inside a function: the main dependencies or the `postgres`
  extra (psycopg2 is imported only when the instance is PostgreSQL).
- Imports under `if TYPE_CHECKING:` and the tests' imports: any dependency or extra
  (`make` installs `.[test,postgres]`).

Module names map to distributions through importlib.metadata.packages_distributions().
"""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11 on; the project's venv is 3.11

PROJECT = Path(__file__).resolve().parents[1]
OWN_PACKAGES = {"portfolio_assets", "portfolio_assets_tests"}


def _normal(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> dict[str, set[str]]:
    """The declared distributions: "main", and each extra by name."""
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))["project"]

    def names(requirements: list[str]) -> set[str]:
        found = [re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", text) for text in requirements]
        assert all(found), f"a requirement without a name in {requirements}"
        return {_normal(match.group(0)) for match in found if match}

    declared = {"main": names(project["dependencies"])}
    declared.update({extra: names(items) for extra, items in project["optional-dependencies"].items()})
    return declared


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _outside_tops(node: ast.Import | ast.ImportFrom) -> list[str]:
    """The top-level modules outside the standard library and this project that `node`
    imports absolutely."""
    if isinstance(node, ast.Import):
        modules = [alias.name for alias in node.names]
    else:
        modules = [node.module] if node.level == 0 and node.module else []
    tops = [module.split(".")[0] for module in modules]
    return [top for top in tops if top not in sys.stdlib_module_names and top not in OWN_PACKAGES]


def _imports(tree: ast.Module) -> list[tuple[str, str, int]]:
    """(top-level module, where: "module", "function" or "type_checking", line) of every
    absolute import of a module outside the standard library and this project."""
    found: list[tuple[str, str, int]] = []

    def visit(node: ast.AST, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.extend((top, where, child.lineno) for top in _outside_tops(child))
            if _is_type_checking(child):
                inner = "type_checking"
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) and where == "module":
                inner = "function"
            else:
                inner = where
            visit(child, inner)

    visit(tree, "module")
    return found


def _undeclared(folder: str) -> list[str]:
    declared = _declared()
    everything = set().union(*declared.values())
    allowed = {
        "module": declared["main"],
        "function": declared["main"] | declared["postgres"],
        "type_checking": everything,
    }
    distributions = packages_distributions()
    problems = []
    for path in sorted((PROJECT / folder).rglob("*.py")):
        for module, where, line in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            wanted = allowed[where] if folder == "portfolio_assets" else everything
            providers = {_normal(name) for name in distributions.get(module, [])}
            if not providers & wanted:
                provided_by = ", ".join(sorted(providers)) or "no installed distribution"
                problems.append(
                    f"{path.relative_to(PROJECT)}:{line}: {module} ({provided_by}), imported at {where} level"
                )
    return problems


def test_every_module_the_package_imports_is_declared_where_an_install_gets_it() -> None:
    assert _undeclared("portfolio_assets") == []


def test_every_module_the_tests_import_is_declared() -> None:
    assert _undeclared("portfolio_assets_tests") == []


def test_an_import_counts_where_it_runs() -> None:
    # At import time (the main dependencies), only when a function runs (an extra may do),
    # or only for the type checker.
    tree = ast.parse("import yaml\n\ndef connect():\n    import psycopg2\n\nif TYPE_CHECKING:\n    import mypy\n")
    assert _imports(tree) == [("yaml", "module", 1), ("psycopg2", "function", 4), ("mypy", "type_checking", 7)]
