"""The generated sample world: deterministic, laid out like Stooq, and exercising every report value."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from portfolio_assets.dev.sample import STOOQ_HEADER, SampleWorld, write_sample
from portfolio_assets.domain.reports import Reports
from portfolio_assets.domain.stooq_tree import scan_stooq_tree
from portfolio_assets.settings import Settings, settings_from_values
from portfolio_assets.steps.match_report import ReportResult, build_match_reports
from portfolio_assets.steps.stooq_index import build_stooq_index
from portfolio_assets.steps.tradeable_universe import build_universe

from ..domain.reference import read_broker_folder
from ..helpers import build_all

ROW = re.compile(r"[A-Z0-9]+(\.(US|UK|DE))?,D,\d{8},000000,(\d+\.\d{2,4},){4}\d+,0")


def all_files(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def settings_for(world: SampleWorld, outputs: Path) -> Settings:
    return settings_from_values(
        {
            "stooq_dir": str(world.stooq_dir),
            "tradeable_dir": str(world.tradeable_dir),
            "metadata_dir": str(outputs / "metadata"),
            "prices_dir": str(outputs / "prices"),
        }
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> SampleWorld:
    return write_sample(tmp_path_factory.mktemp("sample"))


@pytest.fixture(scope="module")
def reports(world: SampleWorld, tmp_path_factory: pytest.TempPathFactory) -> Reports:
    settings = settings_for(world, tmp_path_factory.mktemp("outputs"))
    result = build_all(settings)["match_report"]
    assert isinstance(result, ReportResult)
    return result.reports


def test_same_arguments_give_identical_files(world: SampleWorld, tmp_path: Path) -> None:
    again = write_sample(tmp_path / "again")
    assert all_files(again.root) == all_files(world.root)
    assert again.stooq_files == world.stooq_files and again.broker_lists == world.broker_lists
    other = write_sample(tmp_path / "other", seed=8, matched_rows=(1, 2), unmatched_rows=(1, 2))
    assert all_files(other.root).keys() != all_files(world.root).keys()


def test_counts_describe_what_was_written(world: SampleWorld) -> None:
    assert world.stooq_files == len(scan_stooq_tree(world.stooq_dir)) == 400
    on_disk = sum(1 for path in world.stooq_dir.rglob("*") if path.is_file())
    assert on_disk == world.stooq_files + world.ignored_files
    assert world.instruments == len(read_broker_folder(world.tradeable_dir)) == 60
    assert dict(world.broker_lists).keys() == {"broker_a_stocks.csv", "broker_b_etf.csv", "broker_c_us.csv"}
    assert 0 < world.matched_files < world.stooq_files


def test_tree_is_laid_out_like_unpacked_stooq_archives(world: SampleWorld) -> None:
    paths = [item.relative_path for item in scan_stooq_tree(world.stooq_dir)]
    regions = Counter(path.split("/")[3] for path in paths)
    assert set(regions) == {"us", "uk", "pl", "de"} and all(count > 10 for count in regions.values())
    assert all(path.startswith(f"d_{path.split('/')[3]}_txt/data/daily/") for path in paths)
    for bucket in "123":
        assert any(path.startswith(f"d_us_txt/data/daily/us/nasdaq stocks/{bucket}/") for path in paths)
    assert "d_uk_txt/data/daily/uk/lse etfs/1/vwrl.uk.txt" in paths
    polish = [path.rsplit("/", 1)[1] for path in paths if "/daily/pl/" in path]
    assert polish and all(name.count(".") == 1 for name in polish)  # pkn.txt: no market suffix
    assert all(name.endswith(".de.txt") for path in paths if "/daily/de/" in path for name in [path.rsplit("/", 1)[1]])
    assert "d_us_txt/data/daily/us/nyse stocks/2/GE.US.TXT" in paths
    tickers = Counter(path.rsplit("/", 1)[1].lower() for path in paths)
    assert tickers["goog.us.txt"] == 2  # the same ticker in two folders
    hidden = [path for path in world.stooq_dir.rglob(".*")]
    assert hidden and not any("/." in path or path.startswith(".") for path in paths)


def test_price_files_have_the_stooq_format(world: SampleWorld) -> None:
    text = (world.stooq_dir / "d_us_txt/data/daily/us/nasdaq stocks/1/aapl.us.txt").read_text()
    header, *rows = text.splitlines()
    assert header == STOOQ_HEADER and 300 <= len(rows) <= 1200
    assert all(ROW.fullmatch(row) and row.startswith("AAPL.US,") for row in rows)
    dates = [row.split(",")[2] for row in rows]
    assert dates == sorted(set(dates))
    polish = (world.stooq_dir / "d_pl_txt/data/daily/pl/wse stocks/pkn.txt").read_text().splitlines()
    assert polish[1].startswith("PKN,D,")


def test_broker_lists_come_in_the_three_styles(world: SampleWorld) -> None:
    raw = {path.name: path.read_bytes() for path in world.tradeable_dir.iterdir()}
    assert raw["broker_a_stocks.csv"].startswith(b"market,isin,symbol,name\n")
    assert raw["broker_b_etf.csv"].startswith(b"Market,ISIN,Symbol,Name,Currency,AUM,Replication,Fee,Dividend\r\n")
    assert raw["broker_c_us.csv"].startswith(b"\xef\xbb\xbfmarket,isin,symbol,name,currency\n")
    assert b"\n\n" in raw["broker_a_stocks.csv"]  # a blank line
    assert b" NYSE ,US4592001014, IBM ," in raw["broker_a_stocks.csv"]  # surrounding spaces
    assert b"GBR-LSE,IE00B43HR379,IUHC:LN," in raw["broker_b_etf.csv"]
    instruments = read_broker_folder(world.tradeable_dir)
    by_list = Counter((item.symbol, item.source_file) for item in instruments)
    assert by_list[("SAP", "broker_a_stocks.csv")] == 2  # twice in one list, for XETRA and NYSE
    lists_with_spy = {item.source_file for item in instruments if item.symbol == "SPY:US"}
    assert lists_with_spy == {"broker_b_etf.csv", "broker_c_us.csv"}


def test_match_report_shows_every_value(world: SampleWorld, reports: Reports) -> None:
    matches = reports.matches
    statuses = {row["data_status"] for row in matches}
    assert {"ok", "warning", "sparse", "empty", "error:UnicodeDecodeError"} <= statuses
    flags = {flag.split("=")[0] for row in matches for flag in row["data_flags"].split(";") if flag}
    assert flags == {
        "invalid_rows",
        "non_numeric_prices",
        "non_positive_close",
        "missing_volume",
        "zero_volume",
        "zero_volume_ratio",
        "zero_volume_severity",
        "duplicate_dates",
        "non_monotonic_dates",
    }
    assert {row["strategy"] for row in matches} == {"ticker", "base_market"}
    assert {"match", "override", "inferred_only", "expected_only", "unknown"} <= {
        row["currency_status"] for row in matches
    }
    by_symbol = {(row["symbol"], row["market"]): row for row in matches}
    assert by_symbol[("FB", "NSQ")]["matched_ticker"] == "META.US"
    assert by_symbol[("TRPA", "NSQ")]["matched_ticker"] == "LTRPA.US"
    assert by_symbol[("EXM", "WSE")]["strategy"] == "ticker"
    assert by_symbol[("GOOG:US", "NASDAQ (USD) USA-NASDAQ ALPHABET CLASS")]["stooq_path"].startswith(
        "d_us_txt/data/daily/us/nasdaq stocks/"
    )


def test_unmatched_report_reaches_each_reason(world: SampleWorld, reports: Reports) -> None:
    reasons = {row[0]: row[-1] for row in reports.unmatched}
    assert reasons == {
        "2800:HK": "no_source_data(.HK)",
        "1306:JP": "no_source_data(.JP)",
        "NWCOX": "manual_review",
        "BRK.B:US": "manual_review",
        "RIO": "ambiguous_variants",
    }
    assert len(reports.unmatched) == world.unmatched_instruments
    assert len(reports.matches) == world.instruments - world.unmatched_instruments


def test_every_random_instrument_matches_at_a_larger_size(tmp_path: Path) -> None:
    world = write_sample(
        tmp_path / "sample", stooq_files=1000, instruments=300, seed=11, matched_rows=(2, 3), unmatched_rows=(1, 2)
    )
    settings = settings_for(world, tmp_path / "outputs")
    build_stooq_index(settings)
    build_universe(settings)
    reports = build_match_reports(settings).reports
    assert world.instruments == 300 and world.stooq_files == 1000
    assert len(reports.unmatched) == world.unmatched_instruments


def test_refuses_bad_arguments_and_folders_with_files(world: SampleWorld, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="stooq_files"):
        write_sample(tmp_path / "small", stooq_files=10)
    with pytest.raises(ValueError, match="matched_rows"):
        write_sample(tmp_path / "rows", matched_rows=(10, 5))
    with pytest.raises(FileExistsError):
        write_sample(world.root)
