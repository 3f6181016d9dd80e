"""Shared fixtures: a small hand-written world in a temporary working directory."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from portfolio_assets.core.settings import SETTING_VARIABLES

STOOQ_HEADER = "<TICKER>,<PER>,<DATE>,<TIME>,<OPEN>,<HIGH>,<LOW>,<CLOSE>,<VOL>,<OPENINT>\n"


def stooq_rows(ticker: str, dates: list[str], close: str = "10.5", volume: str = "1000") -> str:
    return STOOQ_HEADER + "".join(
        f"{ticker},D,{day},000000,10,11,9,{close},{volume},0\n" for day in dates
    )


def write_file(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


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
    write_file(brokers / "broker_a.csv", "market,isin,symbol,name\nNSQ,US0378331005,AAPL,Apple\n"
               "GPW,PLEXM,EXM,Exm\nNSQ,US000,NOPE,Nothing\n")
    write_file(brokers / "broker_b.csv", "Market,ISIN,Symbol,Name,Currency,AUM\n"
               "GBR-LSE,IE00B43HR379,IUHC:LN,ISHARES HEALTH,USD,\n"
               "NEW YORK STOCK EXCHANGE (USD) USA-NYSE KIMCO,US49446R1095,KIM:US,REALTY,USD,\n")
    return tmp_path


@pytest.fixture
def instance():
    with dg.instance_for_test() as test_instance:
        yield test_instance


def output_files(root: Path) -> dict[str, bytes]:
    """Every report and export (CSV) under data/metadata and data/processed, by relative path.

    Caches and manifests are left out: they hold stamps that differ between copies."""
    found = {}
    for folder in (root / "data" / "metadata", root / "data" / "processed"):
        if folder.exists():
            for path in sorted(folder.rglob("*")):
                if path.is_file() and path.suffix == ".csv":
                    found[str(path.relative_to(root))] = path.read_bytes()
    return found
