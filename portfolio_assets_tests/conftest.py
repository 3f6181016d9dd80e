"""Shared fixtures: a small hand-written world in a temporary working directory, and a
test instance. Shared plain helpers are in helpers.py.

Dagster is imported only by the `instance` fixture, when a test asks for it: the fast
layer (`make test-fast`: domain, incremental, io, steps, data) never imports it
(test_layers.py checks)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from portfolio_assets.settings import SETTING_VARIABLES

from .helpers import STOOQ_HEADER, stooq_rows, write_file

if TYPE_CHECKING:
    import dagster as dg

MEMORY_FOLDER = Path("/dev/shm")


def pytest_configure(config: pytest.Config) -> None:
    """Temporary folders (worlds, Dagster instances) in memory where the machine has it.

    Dagster's SQLite storage commits every event; on a disk each commit waits for the
    disk, on tmpfs it does not: the suite runs about a third faster. TMPDIR set by the
    caller wins, and so does `--basetemp`."""
    if "TMPDIR" not in os.environ and MEMORY_FOLDER.is_dir() and os.access(MEMORY_FOLDER, os.W_OK):
        os.environ["TMPDIR"] = str(MEMORY_FOLDER)  # processes the tests start inherit it
        tempfile.tempdir = None  # forget the folder already chosen


@pytest.fixture(autouse=True)
def _no_shared_instance_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests choose their instance's storage themselves (storage.py): a shared
    instance's PORTFOLIO_ASSETS_POSTGRES_URL in the caller's shell would make the CLI refuse
    every local instance they make."""
    monkeypatch.delenv("PORTFOLIO_ASSETS_POSTGRES_URL", raising=False)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with data/stooq and tradeable_instruments at their default places."""
    for variable in SETTING_VARIABLES.values():
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(tmp_path)
    stooq = tmp_path / "data" / "stooq"
    days = ["20240102", "20240103", "20240104"]
    write_file(stooq / "d_us_txt/data/daily/us/nasdaq stocks/1/aapl.us.txt", stooq_rows("AAPL.US", days))
    write_file(stooq / "d_us_txt/data/daily/us/nyse stocks/2/kim.us.txt", stooq_rows("KIM.US", days))
    write_file(stooq / "d_uk_txt/data/daily/uk/lse etfs/1/iuhc.uk.txt", stooq_rows("IUHC.UK", days))
    write_file(stooq / "d_pl_txt/data/daily/pl/wse stocks/exm.txt", STOOQ_HEADER)
    brokers = tmp_path / "tradeable_instruments"
    write_file(
        brokers / "broker_a.csv",
        "market,isin,symbol,name\nNSQ,US0378331005,AAPL,Apple\nGPW,PLEXM,EXM,Exm\nNSQ,US000,NOPE,Nothing\n",
    )
    write_file(
        brokers / "broker_b.csv",
        "Market,ISIN,Symbol,Name,Currency,AUM\n"
        "GBR-LSE,IE00B43HR379,IUHC:LN,ISHARES HEALTH,USD,\n"
        "NEW YORK STOCK EXCHANGE (USD) USA-NYSE KIMCO,US49446R1095,KIM:US,REALTY,USD,\n",
    )
    return tmp_path


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    """An empty instance on the storage the run chose (storage.py: SQLite or PostgreSQL)."""
    from .storage import fresh_instance  # imports Dagster: only for the tests that use an instance

    with fresh_instance() as test_instance:
        yield test_instance


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest tests first (the end-to-end ones, then the other slow ones): spread over
    the workers (`--maxschedchunk 2` hands out two tests at a time), they overlap with
    everything else instead of finishing last. The same order on every worker, as xdist
    requires."""

    def rank(item: pytest.Item) -> int:
        if "/e2e/" in item.nodeid or item.nodeid.startswith("e2e/"):
            return 0
        return 1 if item.get_closest_marker("slow") else 2

    items.sort(key=rank)
