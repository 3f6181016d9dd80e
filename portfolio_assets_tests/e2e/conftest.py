"""The slow end-to-end tests' shared `dagster dev`, started once per test module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ..helpers import running_dagster_dev, sample_world


@pytest.fixture(scope="module")
def dagster_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path, Path]]:
    """A running `dagster dev` over a fresh sample, its sensors ticking every 2 s: (port, root, home)."""
    root = tmp_path_factory.mktemp("e2e")
    home = sample_world(root)
    with running_dagster_dev(root, home) as port:
        yield port, root, home
