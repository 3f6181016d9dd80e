"""The price_store asset, made from its registry entry alone: refresh builds it after the
exports, the UI gets its row count, columns, tickers and dates, its check compares the
stored rows with the exports', status judges it, and a daily update appends to it."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from portfolio_assets.data import read_bars, read_prices
from portfolio_assets.definitions import build_definitions
from portfolio_assets.instance.stale_status import asset_statuses
from portfolio_assets.settings import settings_from_environment
from portfolio_assets.steps.registry import asset_keys

from ..helpers import latest_materialization, run_refresh, stooq_rows, write_file


def test_refresh_builds_the_store_and_a_daily_update_appends_to_it(world: Path, instance: dg.DagsterInstance) -> None:
    assert run_refresh(instance) == list(asset_keys())
    metadata = latest_materialization(instance, "price_store").metadata
    assert metadata["dagster/row_count"].value == 9  # three exports of three rows
    schema = metadata["dagster/column_schema"].value
    assert isinstance(schema, dg.TableSchema)
    assert {column.name: column.type for column in schema.columns}["date"] == "date"
    assert metadata["tickers"].value == 3
    assert (metadata["first_date"].value, metadata["last_date"].value) == ("2024-01-02", "2024-01-04")
    defs = build_definitions()
    checks = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        list(defs.resolve_asset_graph().get_check_keys_for_assets({dg.AssetKey("price_store")}))
    )
    assert {key.name: execution.status.value for key, execution in checks.items()} == {
        "store_rows_match_exports": "SUCCEEDED",
        "outputs_intact": "SUCCEEDED",
    }
    statuses = {s.key: s.status for s in asset_statuses(defs, instance, settings_from_environment(), asset_keys())}
    assert statuses["price_store"] == "fresh"

    days = ["20240102", "20240103", "20240104", "20240105"]
    write_file(world / "data/stooq/d_us_txt/data/daily/us/nasdaq stocks/1/aapl.us.txt", stooq_rows("AAPL.US", days))
    assert "price_store" in run_refresh(instance)
    metadata = latest_materialization(instance, "price_store").metadata
    assert (metadata["tickers_appended"].value, metadata["rows_written"].value) == (1, 1)
    assert metadata["rebuilt"].value is False and metadata["dagster/row_count"].value == 10
    closes = read_prices()
    assert list(closes.columns) == ["AAPL.US", "IUHC.UK", "KIM.US"] and len(closes) == 4
    bars = read_bars(["aapl.us"], start="2024-01-04", fields=["close"])
    assert sorted(bars["date"].dt.strftime("%Y-%m-%d")) == ["2024-01-04", "2024-01-05"]
