"""pyproject's warning filters for Dagster's beta and preview warnings name the classes
Dagster exports.

The filters name them where Dagster defines them (`dagster_shared.utils.warnings`), not as
`dagster.BetaWarning`: pytest imports a filter's category for every test, and that would
import Dagster into the fast layer. Were Dagster to define them elsewhere, the filters
would silently stop matching; this test says so first.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import dagster as dg
import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11 on; the project's venv is 3.11

PROJECT = Path(__file__).resolve().parents[2]


def _filtered_categories() -> list[type]:
    """The categories of pyproject's `ignore::module.Class` filters that name a module of Dagster's."""
    pytest_options = tomllib.loads((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"]
    filters: list[str] = pytest_options["ini_options"]["filterwarnings"]
    found = []
    for line in filters:
        action, _, category = [*line.split(":"), "", ""][:3]  # action:message:category:module:line
        if action == "ignore" and category.startswith("dagster"):
            module, _, name = category.rpartition(".")
            found.append(getattr(importlib.import_module(module), name))
    return found


def test_the_filters_name_dagsters_beta_and_preview_warnings() -> None:
    assert sorted(_filtered_categories(), key=lambda category: category.__name__) == [
        dg.BetaWarning,
        dg.PreviewWarning,
    ]
