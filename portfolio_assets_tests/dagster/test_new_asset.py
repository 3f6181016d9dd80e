"""A new asset is its step module plus one registry entry: added that way alone, it is in
the Definitions with its dependencies, code version, checks and automation condition,
`refresh` materializes it after what it reads, and `status` judges it like the others."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from portfolio_assets.definitions import build_definitions
from portfolio_assets.instance.stale_status import asset_statuses
from portfolio_assets.settings import settings_from_environment
from portfolio_assets.steps import registry

from ..helpers import run_refresh, stooq_rows, write_file
from .export_row_counts import ENTRY


@pytest.fixture
def with_fifth_asset(monkeypatch: pytest.MonkeyPatch) -> None:
    # Declared first: the run order comes from the dependencies, not from the declaration.
    monkeypatch.setattr(registry, "ASSETS", (ENTRY, *registry.ASSETS))


def test_a_registry_entry_alone_makes_a_whole_asset(
    world: Path, instance: dg.DagsterInstance, with_fifth_asset: None
) -> None:
    defs = build_definitions()
    graph = defs.resolve_asset_graph()
    node = graph.get(dg.AssetKey("export_row_counts"))
    assert {key.to_user_string() for key in node.parent_keys} == {"price_exports"}
    assert node.code_version == "v1"
    assert node.automation_condition is not None
    assert {key.name for key in graph.get_check_keys_for_assets({node.key})} == {
        "every_export_counted",
        "outputs_intact",
    }
    keys = registry.asset_keys()
    assert keys.index("export_row_counts") > keys.index("price_exports")

    assert run_refresh(instance) == list(registry.asset_keys())
    counts = (world / "data/metadata/export_row_counts.csv").read_text()
    assert counts == "ticker,rows\naapl.us,3\niuhc.uk,3\nkim.us,3\n"
    record = instance.get_latest_materialization_event(dg.AssetKey("export_row_counts"))
    assert record is not None and record.asset_materialization is not None
    assert record.asset_materialization.metadata["dagster/row_count"].value == 3
    evaluations = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        list(graph.get_check_keys_for_assets({node.key}))
    )
    assert {key.name: execution.status.value for key, execution in evaluations.items()} == {
        "every_export_counted": "SUCCEEDED",
        "outputs_intact": "SUCCEEDED",
    }

    statuses = {
        s.key: s.status for s in asset_statuses(defs, instance, settings_from_environment(), registry.asset_keys())
    }
    assert statuses["export_row_counts"] == "fresh"

    days = ["20240102", "20240103", "20240104", "20240105"]
    write_file(world / "data/stooq/d_us_txt/data/daily/us/nasdaq stocks/1/aapl.us.txt", stooq_rows("AAPL.US", days))
    assert "export_row_counts" in run_refresh(instance)
    assert (world / "data/metadata/export_row_counts.csv").read_text().splitlines()[1] == "aapl.us,4"
