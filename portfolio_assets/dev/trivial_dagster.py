"""Dagster's own fixed cost, for the benchmark's floors: a trivial run of four assets.

    DAGSTER_HOME=<new folder> python -P portfolio_assets/dev/trivial_dagster.py

Imports Dagster (and nothing of this package: the benchmark runs this file by its
path), defines four assets in a chain that each return a small number, and
materializes them in one in-process run on the instance in DAGSTER_HOME, which the
benchmark makes a new folder each time, with only telemetry turned off (local SQLite storage, as a cold
`portfolio-assets refresh` on a new DAGSTER_HOME has). The wall time of the whole
process, interpreter start-up included, is the floor's `dagster_fixed`.
"""

from __future__ import annotations

import sys

import dagster as dg

__all__ = ["main"]


@dg.asset
def first() -> int:
    return 1


@dg.asset
def second(first: int) -> int:
    return first + 1


@dg.asset
def third(second: int) -> int:
    return second + 1


@dg.asset
def fourth(third: int) -> int:
    return third + 1


def main() -> int:
    with dg.DagsterInstance.get() as instance:
        result = dg.materialize([first, second, third, fourth], instance=instance)
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
