"""The code location loads, with the keys, dependencies, executor and settings it promises."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg
import pytest

from portfolio_assets.dagster_defs.assets import POOL
from portfolio_assets.definitions import build_definitions
from portfolio_assets.domain.errors import InvalidSetting
from portfolio_assets.steps.registry import ASSET_KEYS


def test_defs_load_with_the_five_assets_and_two_sources() -> None:
    defs = build_definitions()
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert keys == {"stooq_files", "tradeable_instruments", *ASSET_KEYS}
    parents = {key: {p.to_user_string() for p in graph.get(dg.AssetKey(key)).parent_keys} for key in ASSET_KEYS}
    assert parents == {
        "stooq_index": {"stooq_files"},
        "tradeable_universe": {"tradeable_instruments"},
        "match_report": {"stooq_index", "tradeable_universe", "stooq_files"},
        "price_exports": {"match_report"},
        "price_store": {"price_exports", "match_report"},
    }
    assert graph.get(dg.AssetKey("stooq_files")).is_observable


def test_every_step_that_reads_or_writes_outputs_is_in_the_pool() -> None:
    # A check reading exports while another run rewrites them would judge half-written files.
    # Observations read only the inputs, which the pipeline never writes; Dagster 1.13 has
    # no pool for them (docs/operations.md, "One writer at a time").
    job = build_definitions().resolve_implicit_global_asset_job_def()
    pools = {
        node.name: node.definition.pool for node in job.graph.nodes if isinstance(node.definition, dg.OpDefinition)
    }
    assert {name for name, pool in pools.items() if pool != POOL} == {"stooq_files", "tradeable_instruments"}
    assert len(pools) == 2 + 5  # sources, assets; each asset's checks run in its own step
    checks = build_definitions().resolve_asset_graph().asset_check_keys
    assert len(checks) == 11  # six rules, five outputs_intact


def test_the_registry_lists_every_asset_after_the_assets_it_reads() -> None:
    graph = build_definitions().resolve_asset_graph()
    materializable = {key.to_user_string() for key in graph.materializable_asset_keys}
    assert set(ASSET_KEYS) == materializable
    for position, key in enumerate(ASSET_KEYS):
        parents = {p.to_user_string() for p in graph.get(dg.AssetKey(key)).parent_keys}
        assert parents & materializable <= set(ASSET_KEYS[:position]), key


def test_package_exposes_defs_with_in_process_executor() -> None:
    import portfolio_assets
    from portfolio_assets.dagster_defs.executor import in_process_executor_freeing_dead_runs

    assert isinstance(portfolio_assets.defs, dg.Definitions)
    # Dagster's in-process executor, freeing dead runs' pool slots first (dagster/test_run_liveness.py).
    assert portfolio_assets.defs.executor is in_process_executor_freeing_dead_runs


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PORTFOLIO_ASSETS_LSE_CURRENCY_POLICY", "sometimes"),
        ("PORTFOLIO_ASSETS_INCLUDE_EMPTY", "maybe"),
    ],
)
def test_invalid_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(InvalidSetting, match=variable):
        build_definitions()


def test_result_settings_change_only_their_assets_code_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    def versions() -> dict[str, str | None]:
        graph = build_definitions().resolve_asset_graph()
        return {key.to_user_string(): graph.get(key).code_version for key in graph.materializable_asset_keys}

    base = versions()
    monkeypatch.setenv("PORTFOLIO_ASSETS_LSE_CURRENCY_POLICY", "stooq")
    policy = versions()
    assert {k for k in base if base[k] != policy[k]} == {"match_report"}
    monkeypatch.setenv("PORTFOLIO_ASSETS_INCLUDE_EMPTY", "true")
    both = versions()
    assert {k for k in policy if policy[k] != both[k]} == {"price_exports"}
    assert versions() == both  # stable across loads: hashlib, not hash()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PORTFOLIO_ASSETS_WORKERS", "many"),
        ("PORTFOLIO_ASSETS_LOG_LEVEL", "chatty"),
        ("PORTFOLIO_ASSETS_STOOQ_SENSOR_SECONDS", "²"),
        ("PORTFOLIO_ASSETS_MAX_UNMATCHED_SHARE", "2"),
        ("PORTFOLIO_ASSETS_MAX_REMOVED_SHARE", "half"),
        ("PORTFOLIO_ASSETS_MAX_PRICE_LAG_DAYS", "-1"),
        ("PORTFOLIO_ASSETS_FRESHNESS_HOURS", "0"),
    ],
)
def test_every_other_setting_is_validated_too(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(InvalidSetting, match=variable):
        build_definitions()


def test_price_exports_is_overdue_after_the_freshness_window(monkeypatch: pytest.MonkeyPatch) -> None:
    def policies() -> dict[str, dg.FreshnessPolicy | None]:
        graph = build_definitions().resolve_asset_graph()
        return {key.to_user_string(): graph.get(key).freshness_policy for key in graph.materializable_asset_keys}

    assert policies() == {
        "stooq_index": None,
        "tradeable_universe": None,
        "match_report": None,
        "price_exports": dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=36)),
        "price_store": None,
    }
    monkeypatch.setenv("PORTFOLIO_ASSETS_FRESHNESS_HOURS", "12")
    assert policies()["price_exports"] == dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=12))


def test_the_lag_threshold_and_the_freshness_window_change_no_code_version(monkeypatch: pytest.MonkeyPatch) -> None:
    def versions() -> dict[str, str | None]:
        graph = build_definitions().resolve_asset_graph()
        return {key.to_user_string(): graph.get(key).code_version for key in graph.materializable_asset_keys}

    before = versions()
    monkeypatch.setenv("PORTFOLIO_ASSETS_MAX_PRICE_LAG_DAYS", "1")
    monkeypatch.setenv("PORTFOLIO_ASSETS_FRESHNESS_HOURS", "2")
    assert versions() == before
