"""The Dagster-free "nothing changed" check never answers fresh when something is stale."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from portfolio_assets.cli.fast_path import FRESH_STATE_FILE, known_fresh
from portfolio_assets.cli.refresh import fresh_checked_statuses, refresh
from portfolio_assets.definitions import build_definitions
from portfolio_assets.instance.stale_status import asset_statuses
from portfolio_assets.settings import settings_from_environment
from portfolio_assets.steps.registry import ASSET_KEYS

from ..helpers import AAPL, BlockedRead, materializable, set_logic_version, write_file
from ..storage import instance_config_text, write_instance_config


@pytest.fixture
def home(world: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dg.DagsterInstance]]:
    root = write_instance_config(tmp_path_factory.mktemp("dagster_home"))
    with dg.DagsterInstance.from_config(str(root)) as instance:
        defs = build_definitions()
        assert refresh(defs, instance, settings_from_environment(), report=lambda _: None).success
        yield root, instance


def fast(root: Path) -> bool:
    return known_fresh(root, settings_from_environment())


def dagster_says_fresh(instance: dg.DagsterInstance) -> bool:
    defs = build_definitions()
    return all(s.status == "fresh" for s in asset_statuses(defs, instance, settings_from_environment(), ASSET_KEYS))


def test_fresh_after_refresh_and_agrees_with_dagster(home: tuple[Path, dg.DagsterInstance]) -> None:
    root, instance = home
    assert (root / FRESH_STATE_FILE).is_file()
    assert fast(root) and dagster_says_fresh(instance)


def test_a_run_from_the_ui_or_shell_voids_it(home: tuple[Path, dg.DagsterInstance]) -> None:
    root, instance = home
    defs = build_definitions()
    dg.materialize(
        materializable(defs),
        resources=defs.resources,
        instance=instance,
        selection=["match_report"],
        run_config={"ops": {"match_report": {"config": {"force": True}}}},
    )
    assert not fast(root)


def test_a_sensor_observation_voids_it(home: tuple[Path, dg.DagsterInstance]) -> None:
    root, instance = home
    instance.report_runless_asset_event(
        dg.AssetObservation(asset_key=dg.AssetKey("tradeable_instruments"), tags={"dagster/data_version": "elsewhere"})
    )
    assert not fast(root)
    assert not dagster_says_fresh(instance)


@pytest.mark.parametrize(
    "change", ["broker_list", "stooq_content", "stooq_added", "output_deleted", "output_edited", "export_deleted"]
)
def test_input_and_output_changes_void_it(home: tuple[Path, dg.DagsterInstance], world: Path, change: str) -> None:
    root, instance = home
    if change == "broker_list":
        with open(world / "tradeable_instruments/broker_a.csv", "a") as handle:
            handle.write("NSQ,US1,NEW,New\n")
    elif change == "stooq_content":
        path = next((world / "data/stooq").rglob("aapl.us.txt"))
        os.utime(path, ns=(1, path.stat().st_mtime_ns + 1000))
    elif change == "stooq_added":
        write_file(world / "data/stooq/d_us_txt/data/daily/us/nasdaq stocks/1/zz.us.txt", "")
    elif change == "output_deleted":
        (world / "data/metadata/tradeable_unmatched.csv").unlink()
    elif change == "output_edited":
        with open(world / "data/metadata/stooq_index.csv", "a") as handle:
            handle.write("X,X,x.txt,x,\n")
    else:
        (world / "data/processed/tradeable_prices/aapl.us.csv").unlink()
    assert not fast(root)
    defs = build_definitions()
    record_and_check = refresh(defs, instance, settings_from_environment(), report=lambda _: None)
    assert record_and_check.success and record_and_check.materialized
    assert fast(root)


def test_touching_a_broker_list_keeps_it(home: tuple[Path, dg.DagsterInstance], world: Path) -> None:
    root, instance = home
    os.utime(world / "tradeable_instruments/broker_a.csv", (1, 1))
    assert fast(root) and dagster_says_fresh(instance)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PORTFOLIO_ASSETS_LSE_CURRENCY_POLICY", "strict"),
        ("PORTFOLIO_ASSETS_INCLUDE_EMPTY", "true"),
        ("PORTFOLIO_ASSETS_PRICES_DIR", "elsewhere"),
    ],
)
def test_a_setting_change_voids_it(
    home: tuple[Path, dg.DagsterInstance], monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    root, instance = home
    monkeypatch.setenv(variable, value)
    assert not fast(root)
    assert not dagster_says_fresh(instance)


def test_a_code_version_bump_voids_it(home: tuple[Path, dg.DagsterInstance], monkeypatch: pytest.MonkeyPatch) -> None:
    root, instance = home
    set_logic_version(monkeypatch, "price_exports", "99")
    assert not fast(root)
    assert not dagster_says_fresh(instance)


def test_other_storage_or_a_damaged_record_means_dont_know(home: tuple[Path, dg.DagsterInstance]) -> None:
    root, _ = home
    (root / FRESH_STATE_FILE).write_text("{broken")
    assert not fast(root)
    (root / FRESH_STATE_FILE).unlink()
    assert not fast(root)


def test_an_instance_whose_storage_cannot_be_read_is_never_known_fresh(home: tuple[Path, dg.DagsterInstance]) -> None:
    root, _ = home
    assert fast(root)
    (root / "dagster.yaml").write_text(
        "storage:\n  postgres:\n    postgres_url: postgresql+psycopg2://nobody@127.0.0.1:9/x\n"
    )
    assert not fast(root)  # no server answers
    (root / "dagster.yaml").write_text("storage:\n  mysql:\n    mysql_url: mysql://x\n")
    assert not fast(root)  # a storage the fast path cannot read


def test_a_list_read_mid_run_then_reverted_is_not_known_fresh(
    home: tuple[Path, dg.DagsterInstance], world: Path
) -> None:
    root, instance = home
    path = world / "tradeable_instruments/broker_a.csv"
    original = path.read_bytes()
    path.write_bytes(original + b"NSQ,US9,MID,Saved mid-run\n")
    defs = build_definitions()  # a run that reads the lists before anyone observed them
    dg.materialize(materializable(defs), resources=defs.resources, instance=instance, selection=["tradeable_universe"])
    assert refresh(defs, instance, settings_from_environment(), report=lambda _: None).success
    assert fast(root)
    path.write_bytes(original)
    assert not fast(root)


def test_the_projects_own_instance_config_allows_the_fast_check(home: tuple[Path, dg.DagsterInstance]) -> None:
    root, _ = home
    (root / "dagster.yaml").write_text(instance_config_text(), encoding="utf-8")
    assert fast(root)


def test_a_file_that_could_not_be_read_is_never_known_fresh(
    home: tuple[Path, dg.DagsterInstance], world: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Until match_report has read it again, even when the file's stamp never moved."""
    root, instance = home
    with open(world / AAPL, "a") as handle:
        handle.write("AAPL.US,D,20240105,000000,10,11,9,10.7,1200,0\n")
    blocked = BlockedRead(monkeypatch, world / AAPL)
    assert refresh(build_definitions(), instance, settings_from_environment(), report=lambda _: None).success
    blocked.blocked = False
    assert not fast(root)
    statuses = {
        s.key: s.status for s in fresh_checked_statuses(build_definitions(), instance, settings_from_environment())
    }
    assert statuses["match_report"] == "stale"
    assert not fast(root)
    assert refresh(build_definitions(), instance, settings_from_environment(), report=lambda _: None).materialized == [
        "match_report",
        "price_exports",
        "price_store",
    ]
    assert fast(root)
