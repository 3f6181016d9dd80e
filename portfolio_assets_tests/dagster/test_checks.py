"""Asset checks run with their assets and catch what a user would want caught."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from portfolio_assets.definitions import build_definitions
from portfolio_assets.incremental.consistency import PartRecords, export_coverage, report_coverage
from portfolio_assets.incremental.metadata_files import MetadataFiles
from portfolio_assets.settings import settings_from_environment
from portfolio_assets.steps.registry import ASSET_KEYS, cache_version

from ..helpers import materializable, stooq_rows, write_file


def materialize_all(instance: dg.DagsterInstance) -> dict[str, dg.AssetCheckEvaluation]:
    defs = build_definitions()
    result = dg.materialize(
        materializable(defs),
        resources=defs.resources,
        instance=instance,
        selection=["stooq_files", "tradeable_instruments", *ASSET_KEYS],
    )
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_all_checks_pass_on_a_consistent_run(world: Path, instance: dg.DagsterInstance) -> None:
    checks = materialize_all(instance)
    assert set(checks) == {
        "stooq_index_not_empty",
        "every_instrument_reported_once",
        "unmatched_share_below_threshold",
        "price_lag_below_threshold",
        "exports_match_the_report",
        "store_rows_match_exports",
        "outputs_intact",
    }
    assert all(check.passed for check in checks.values())
    assert checks["every_instrument_reported_once"].metadata["universe_rows"].value == 5


def test_repeated_symbol_rows_are_counted_as_rows(world: Path, instance: dg.DagsterInstance) -> None:
    with open(world / "tradeable_instruments/broker_a.csv", "a") as handle:
        handle.write("NSQ,US0378331005,AAPL,Apple\nXETRA,DE1,AAPL,Apple DE\n")
    checks = materialize_all(instance)
    assert checks["every_instrument_reported_once"].passed
    assert checks["every_instrument_reported_once"].metadata["reported_rows"].value == 7


def test_report_coverage_finds_missing_and_extra_rows(world: Path, instance: dg.DagsterInstance) -> None:
    materialize_all(instance)
    meta = world / "data/metadata"
    unmatched = meta / "tradeable_unmatched.csv"
    lines = unmatched.read_text().splitlines()
    unmatched.write_text("\n".join(lines[:1]) + "\n")
    coverage = report_coverage(meta / "tradeable_universe.csv", meta / "tradeable_matches.csv", unmatched)
    assert not coverage.passed and coverage.missing == ["NOPE (NSQ) from broker_a.csv"]
    unmatched.write_text("\n".join([*lines, lines[1]]) + "\n")
    coverage = report_coverage(meta / "tradeable_universe.csv", meta / "tradeable_matches.csv", unmatched)
    assert coverage.extra == ["NOPE (NSQ) from broker_a.csv"]


def test_a_row_appended_to_a_long_list_is_checked_alone(world: Path, instance: dg.DagsterInstance) -> None:
    """Issue 20, item 15: the check reads the new rows of a list that grew, not the others."""
    long_list = world / "tradeable_instruments/broker_long.csv"
    rows = "".join(f"NASDAQ (USD) USA-NASDAQ,US{n:010d},Q{n:05d}:US,FUND {n},USD\n" for n in range(5_000))
    write_file(long_list, "market,isin,symbol,name,currency\n" + rows)
    first = materialize_all(instance)["every_instrument_reported_once"]
    assert first.passed and first.metadata["rows_read"].value == 2 * 5_005
    with open(long_list, "a") as handle:
        handle.write("NSQ,US0378331005,AAPL,Apple,USD\n")
    check = materialize_all(instance)["every_instrument_reported_once"]
    assert check.passed and check.metadata["universe_rows"].value == 5_006
    assert check.metadata["rows_read"].value == 2  # the new row in the universe and in the match report
    settings = settings_from_environment()
    unmatched = settings.unmatched_report_path
    unmatched.write_text("".join(unmatched.read_text().splitlines(True)[:-1]))  # the last unmatched row lost
    records = PartRecords(
        MetadataFiles(settings.metadata_dir).universe_parts_path,
        cache_version("universe_parts"),
        MetadataFiles(settings.metadata_dir).report_parts_path,
        cache_version("report_parts"),
        MetadataFiles(settings.metadata_dir).coverage_checked_path,
    )
    coverage = report_coverage(settings.universe_path, settings.match_report_path, unmatched, records)
    assert coverage.missing == ["Q04999:US (NASDAQ (USD) USA-NASDAQ) from broker_long.csv"]


def test_export_coverage_finds_missing_and_unexpected_exports(world: Path, instance: dg.DagsterInstance) -> None:
    materialize_all(instance)
    prices = world / "data/processed/tradeable_prices"
    (prices / "kim.us.csv").unlink()
    (prices / "stray.csv").write_text("x\n")
    coverage = export_coverage(world / "data/metadata/tradeable_matches.csv", prices, include_empty=False)
    assert coverage.missing == ["kim.us.csv"] and coverage.unexpected == ["stray.csv"]


def test_unmatched_share_warns_above_the_threshold(
    world: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORTFOLIO_ASSETS_MAX_UNMATCHED_SHARE", "0.1")
    check = materialize_all(instance)["unmatched_share_below_threshold"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["unmatched_share"].value == 0.2


def test_price_lag_warns_only_beyond_the_threshold(
    world: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    us = world / "data/stooq/d_us_txt/data/daily/us"
    # AAPL's prices reach Friday 12 January; KIM's stop on Friday 5 January: five business days behind.
    write_file(us / "nasdaq stocks/1/aapl.us.txt", stooq_rows("AAPL.US", ["20240104", "20240105", "20240112"]))
    write_file(us / "nyse stocks/2/kim.us.txt", stooq_rows("KIM.US", ["20240104", "20240105"]))
    at_the_threshold = materialize_all(instance)["price_lag_below_threshold"]
    assert at_the_threshold.passed and at_the_threshold.metadata["lagging_count"].value == 0
    monkeypatch.setenv("PORTFOLIO_ASSETS_MAX_PRICE_LAG_DAYS", "4")
    beyond = materialize_all(instance)["price_lag_below_threshold"]
    assert not beyond.passed and beyond.severity == dg.AssetCheckSeverity.WARN
    assert beyond.metadata["max_lag_business_days"].value == 4
    lagging_table = beyond.metadata["lagging"]
    assert isinstance(lagging_table, dg.TableMetadataValue)
    [lagging] = [record.data for record in lagging_table.records]
    assert (lagging["symbol"], lagging["matched_ticker"], lagging["price_end"]) == ("KIM:US", "KIM.US", "2024-01-05")
    assert (lagging["region_newest"], lagging["lag_business_days"]) == ("2024-01-12", 5)
