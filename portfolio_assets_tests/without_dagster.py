"""A pytest plugin that makes Dagster unimportable, for the fast layer.

`make test-fast` loads it (`-p portfolio_assets_tests.without_dagster`): the rules and
the machinery are tested without Dagster, so a test there that imports it, at the top
of its module or inside a function it calls, fails at that import with a message saying
where such a test belongs. test_layers.py collects the fast layer under it too, so CI
(which runs `make test`, not `make test-fast`) notices a module-level import.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType

__all__ = ["DagsterBlocked"]


class DagsterBlocked(importlib.abc.MetaPathFinder):
    """Refuses `dagster` and its submodules (not `dagster_shared`, which defines the
    warning classes pyproject's filters name without importing Dagster)."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname == "dagster" or fullname.startswith("dagster."):
            raise ImportError(
                f"{fullname} imported in the fast layer (make test-fast runs without Dagster): "
                "a test that needs Dagster belongs in dagster/, cli/, e2e/ or instance/; "
                "a helper imports Dagster inside the function that needs it"
            )
        return None


if "dagster" in sys.modules:
    raise RuntimeError("Dagster was imported before the without_dagster plugin was loaded")
sys.meta_path.insert(0, DagsterBlocked())
