"""`dagster dev` as users run it: webserver and daemon on 127.0.0.1, sensors on by default.

Slow: each test module starts one real `dagster dev` process over a sample world.
"""

from __future__ import annotations

import time
from pathlib import Path

import dagster as dg
import pytest

from portfolio_assets.steps.registry import ASSET_KEYS

from ..helpers import graphql, wait_for

pytestmark = pytest.mark.slow


def latest_materialization(home: Path, key: str) -> float | None:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(key))
        return None if event is None else event.timestamp


def test_ui_lists_the_assets_checks_and_sensors(dagster_dev: tuple[int, Path, Path]) -> None:
    port, _, _ = dagster_dev
    nodes = graphql(
        port,
        "{ assetNodes { assetKey { path } groupName isObservable "
        "assetChecksOrError { ... on AssetChecks { checks { name } } } } }",
    )["assetNodes"]
    keys = {"/".join(node["assetKey"]["path"]): node for node in nodes}
    assert set(keys) == {
        "stooq_files",
        "tradeable_instruments",
        "stooq_index",
        "tradeable_universe",
        "match_report",
        "price_exports",
        "price_store",
    }
    assert keys["stooq_files"]["isObservable"] and keys["match_report"]["groupName"] == "portfolio"
    checks = {c["name"] for node in nodes for c in (node["assetChecksOrError"] or {}).get("checks", [])}
    assert {
        "every_instrument_reported_once",
        "exports_match_the_report",
        "store_rows_match_exports",
        "stooq_index_not_empty",
        "unmatched_share_below_threshold",
        "outputs_intact",
    } <= checks
    repositories = graphql(
        port,
        "{ repositoriesOrError { ... on RepositoryConnection { nodes { sensors { name sensorState { status } } } } } }",
    )
    states = {
        s["name"]: s["sensorState"]["status"]
        for node in repositories["repositoriesOrError"]["nodes"]
        for s in node["sensors"]
    }
    assert states == {
        "tradeable_instruments_sensor": "RUNNING",
        "stooq_files_sensor": "RUNNING",
        "output_files_sensor": "RUNNING",
        "portfolio_assets_automation": "RUNNING",
    }


def test_sensor_brings_everything_up_then_follows_a_broker_list(dagster_dev: tuple[int, Path, Path]) -> None:
    _, root, home = dagster_dev
    keys = ASSET_KEYS
    wait_for(
        lambda: all(latest_materialization(home, key) for key in keys),
        180,
        "the sensors to materialize every asset of the fresh sample",
    )
    time.sleep(6)  # let the chain settle: nothing further should be stale
    before = {key: latest_materialization(home, key) for key in keys}
    changed_at = time.time()
    with open(root / "tradeable_instruments" / "broker_b_etf.csv", "a", encoding="utf-8") as handle:
        handle.write("GBR-LSE,IE00B4L5Y983,SWDA:LN,ISHARES CORE MSCI WORLD,USD,,,,\n")
    wait_for(
        lambda: latest_materialization(home, "match_report") != before["match_report"],
        60,
        "a sensor run to materialize match_report after the broker list changed",
    )
    assert latest_materialization(home, "tradeable_universe") != before["tradeable_universe"]
    assert latest_materialization(home, "stooq_index") == before["stooq_index"]
    assert time.time() - changed_at < 60
    assert "SWDA" in (root / "data/metadata/tradeable_universe.csv").read_text()
