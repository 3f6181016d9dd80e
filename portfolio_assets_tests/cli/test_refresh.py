"""SPEC 6, row by row: a refresh materializes exactly what must change, and the result
always equals a from-scratch run."""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg
import pytest

from portfolio_assets.definitions import build_definitions
from portfolio_assets.instance.stale_status import asset_statuses
from portfolio_assets.settings import settings_from_environment
from portfolio_assets.steps.registry import ASSET_KEYS

from ..helpers import (
    AAPL,
    from_scratch,
    materializable,
    output_files,
    rewrite_keeping_size_and_mtime,
    run_refresh,
    set_logic_version,
    stooq_rows,
    write_file,
)


def statuses(instance: dg.DagsterInstance) -> dict[str, str]:
    defs = build_definitions()
    return {s.key: s.status for s in asset_statuses(defs, instance, settings_from_environment(), ASSET_KEYS)}


@pytest.fixture
def settled(world: Path, instance: dg.DagsterInstance) -> Path:
    assert run_refresh(instance) == list(ASSET_KEYS)
    assert run_refresh(instance) == []
    return world


def mtimes(world: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in (world / "data").rglob("*.csv") if "stooq" not in p.parts}


def test_first_run_materializes_everything_then_nothing(
    world: Path, instance: dg.DagsterInstance, tmp_path_factory: pytest.TempPathFactory
) -> None:
    assert statuses(instance) == dict.fromkeys(ASSET_KEYS, "missing")
    assert run_refresh(instance) == list(ASSET_KEYS)
    before = mtimes(world)
    assert run_refresh(instance) == []
    assert mtimes(world) == before
    assert statuses(instance) == dict.fromkeys(ASSET_KEYS, "fresh")
    assert output_files(world) == from_scratch(world, tmp_path_factory)


@pytest.mark.parametrize(
    ("deleted", "expected"),
    [
        ("data/metadata/stooq_index.csv", ["stooq_index"]),
        ("data/metadata/tradeable_universe.csv", ["tradeable_universe"]),
        ("data/metadata/tradeable_unmatched.csv", ["match_report"]),
        ("data/processed/tradeable_prices/kim.us.csv", ["price_exports"]),
    ],
)
def test_deleted_output_rebuilds_only_its_asset(
    settled: Path,
    instance: dg.DagsterInstance,
    tmp_path_factory: pytest.TempPathFactory,
    deleted: str,
    expected: list[str],
) -> None:
    (settled / deleted).unlink()
    assert statuses(instance)[expected[0]] == "missing"
    assert run_refresh(instance) == expected
    assert output_files(settled) == from_scratch(settled, tmp_path_factory)


def test_broker_list_added_changed_removed(
    settled: Path, instance: dg.DagsterInstance, tmp_path_factory: pytest.TempPathFactory
) -> None:
    lists = settled / "tradeable_instruments"
    # An instrument matching an already exported ticker, or nothing: no export changes.
    write_file(lists / "broker_c.csv", "market,isin,symbol,name,currency\nNSQ,US1,AAPL,Apple again,USD\n")
    assert run_refresh(instance) == ["tradeable_universe", "match_report"]
    assert output_files(settled) == from_scratch(settled, tmp_path_factory)
    with open(lists / "broker_a.csv", "a") as handle:
        handle.write("NSQ,US2,ZZZZ,Nothing here\n")
    assert run_refresh(instance) == ["tradeable_universe", "match_report"]
    (lists / "broker_c.csv").rename(lists / "broker_d.csv")
    assert run_refresh(instance) == ["tradeable_universe", "match_report"]
    (lists / "broker_d.csv").unlink()
    assert run_refresh(instance) == ["tradeable_universe", "match_report"]
    # One that matches a file nobody exported yet: a new export.
    write_file(
        settled / "data/stooq/d_us_txt/data/daily/us/nasdaq stocks/2/msft.us.txt",
        stooq_rows("MSFT.US", ["20240102", "20240103"]),
    )
    run_refresh(instance)
    with open(lists / "broker_a.csv", "a") as handle:
        handle.write("NSQ,US5949181045,MSFT,Microsoft\n")
    assert run_refresh(instance) == ["tradeable_universe", "match_report", "price_exports", "price_store"]
    assert output_files(settled) == from_scratch(settled, tmp_path_factory)


def test_broker_list_touched_or_resaved_identical_changes_nothing(settled: Path, instance: dg.DagsterInstance) -> None:
    path = settled / "tradeable_instruments" / "broker_a.csv"
    os.utime(path, (1, 1))
    path.write_bytes(path.read_bytes())
    assert run_refresh(instance) == []


def test_blank_lines_and_spaces_stop_at_the_universe(
    settled: Path, instance: dg.DagsterInstance, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = settled / "tradeable_instruments" / "broker_a.csv"
    path.write_text(path.read_text().replace("NSQ,US0378331005,AAPL", "\n NSQ , US0378331005 , AAPL ") + "\n\n")
    before = mtimes(settled)
    assert run_refresh(instance) == ["tradeable_universe"]
    assert mtimes(settled) == before
    assert output_files(settled) == from_scratch(settled, tmp_path_factory)


def test_stooq_file_added_rematches(
    settled: Path, instance: dg.DagsterInstance, tmp_path_factory: pytest.TempPathFactory
) -> None:
    write_file(
        settled / "data/stooq/d_us_txt/data/daily/us/nasdaq stocks/3/nope.us.txt",
        stooq_rows("NOPE.US", ["20240102", "20240103"]),
    )
    assert run_refresh(instance) == ["stooq_index", "match_report", "price_exports", "price_store"]
    assert (settled / "data/processed/tradeable_prices/nope.us.csv").is_file()
    assert output_files(settled) == from_scratch(settled, tmp_path_factory)


def test_unmatched_stooq_file_removed_reindexes_only(
    settled: Path, instance: dg.DagsterInstance, tmp_path_factory: pytest.TempPathFactory
) -> None:
    write_file(
        settled / "data/stooq/d_us_txt/data/daily/us/nasdaq stocks/3/other.us.txt", stooq_rows("OTHER.US", ["20240102"])
    )
    run_refresh(instance)
    (settled / "data/stooq/d_us_txt/data/daily/us/nasdaq stocks/3/other.us.txt").unlink()
    assert run_refresh(instance) == ["stooq_index", "match_report"]
    assert output_files(settled) == from_scratch(settled, tmp_path_factory)


def test_daily_update_of_a_matched_file(
    settled: Path, instance: dg.DagsterInstance, tmp_path_factory: pytest.TempPathFactory
) -> None:
    index_before = (settled / "data/metadata/stooq_index.csv").stat().st_mtime_ns
    with open(settled / AAPL, "a") as handle:
        handle.write("AAPL.US,D,20240105,000000,10,11,9,10.7,1200,0\n")
    materialized = run_refresh(instance)
    # The index is re-checked (its source changed) but keeps its version and file.
    assert materialized == ["stooq_index", "match_report", "price_exports", "price_store"]
    assert (settled / "data/metadata/stooq_index.csv").stat().st_mtime_ns == index_before
    assert "20240105" in (settled / "data/processed/tradeable_prices/aapl.us.csv").read_text()
    assert output_files(settled) == from_scratch(settled, tmp_path_factory)


def test_a_same_size_rewrite_with_its_mtime_put_back_is_seen(
    settled: Path, instance: dg.DagsterInstance, tmp_path_factory: pytest.TempPathFactory
) -> None:
    rewrite_keeping_size_and_mtime(settled / AAPL)
    assert run_refresh(instance) == ["stooq_index", "match_report", "price_exports", "price_store"]
    report = (settled / "data/metadata/tradeable_matches.csv").read_text()
    assert "non_positive_close=1" in report
    assert (settled / "data/processed/tradeable_prices/aapl.us.csv").read_text().endswith(",-1.5,1000,0\n")
    assert output_files(settled) == from_scratch(settled, tmp_path_factory)


def test_a_backup_by_hard_links_or_a_chmod_rewrites_no_output(
    settled: Path, instance: dg.DagsterInstance, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Hard links (`cp -al`, rsnapshot) and `chmod -R` move every ctime and change no byte:
    the pipeline's own outputs must not look edited, and sources cost a read, no rewrite."""
    backup = tmp_path_factory.mktemp("backup")
    outputs = [path for path in (settled / "data").rglob("*") if path.is_file() and "stooq" not in path.parts]
    for number, path in enumerate(outputs):
        os.link(path, backup / f"{number}-{path.name}")
    written = {k: v for k, v in mtimes(settled).items() if "stooq" not in k}
    assert run_refresh(instance) == []
    for path in (settled / "data/stooq").rglob("*.txt"):
        path.chmod(0o640)
    assert run_refresh(instance) == ["stooq_index", "match_report"]
    assert {k: v for k, v in mtimes(settled).items() if "tradeable_prices" in k} == {
        k: v for k, v in written.items() if "tradeable_prices" in k
    }
    assert output_files(settled) == from_scratch(settled, tmp_path_factory)


def test_lse_policy_change_rebuilds_the_match_report_only(
    settled: Path,
    instance: dg.DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    exports_before = {k: v for k, v in mtimes(settled).items() if "tradeable_prices" in k}
    monkeypatch.setenv("PORTFOLIO_ASSETS_LSE_CURRENCY_POLICY", "stooq")
    defs = build_definitions()
    causes = {s.key: s.causes for s in asset_statuses(defs, instance, settings_from_environment(), ASSET_KEYS)}
    assert causes["match_report"] == ["setting lse_currency_policy changed from broker to stooq"]
    assert run_refresh(instance) == ["match_report"]
    assert {k: v for k, v in mtimes(settled).items() if "tradeable_prices" in k} == exports_before
    assert output_files(settled) == from_scratch(settled, tmp_path_factory)


def test_include_empty_change_rebuilds_the_exports_only(
    settled: Path,
    instance: dg.DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    monkeypatch.setenv("PORTFOLIO_ASSETS_INCLUDE_EMPTY", "true")
    assert run_refresh(instance) == ["price_exports", "price_store"]
    assert (settled / "data/processed/tradeable_prices/exm.csv").is_file()
    assert output_files(settled) == from_scratch(settled, tmp_path_factory)


def test_code_version_bump_rebuilds_that_step_and_dependents(
    settled: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_logic_version(monkeypatch, "tradeable_universe", "2")
    # Same output content: the universe rebuilds, its dependents stay fresh.
    assert run_refresh(instance) == ["tradeable_universe"]
    set_logic_version(monkeypatch, "match_report", "2")
    assert run_refresh(instance) == ["match_report"]


def test_force_materializes_everything(settled: Path, instance: dg.DagsterInstance) -> None:
    assert run_refresh(instance, force=True) == list(ASSET_KEYS)


def test_leftover_temporary_files_are_removed_even_when_nothing_is_stale(
    settled: Path, instance: dg.DagsterInstance
) -> None:
    from portfolio_assets.io.atomic_files import TEMP_PREFIX

    leftovers = [
        settled / "data/metadata" / f"{TEMP_PREFIX}x.part",
        settled / "data/metadata/match_changes" / f"{TEMP_PREFIX}z.part",  # a killed append to the history
        settled / "data/processed/tradeable_prices" / f"{TEMP_PREFIX}y.part",
    ]
    for path in leftovers:
        path.write_text("half")
        os.utime(path, (time.time() - 120, time.time() - 120))  # a killed run's, not a live writer's
    assert run_refresh(instance) == []
    assert not any(path.exists() for path in leftovers)


def test_a_damaged_match_report_is_rebuilt_not_a_crash(
    settled: Path, instance: dg.DagsterInstance, tmp_path_factory: pytest.TempPathFactory
) -> None:
    (settled / "data/metadata/tradeable_matches.csv").write_text("symbol,isin\nbroken\n")
    assert statuses(instance)["price_exports"] == "stale"
    assert run_refresh(instance) == ["match_report"]
    assert output_files(settled) == from_scratch(settled, tmp_path_factory)


def test_a_list_saved_after_observation_is_recorded_as_read(settled: Path, instance: dg.DagsterInstance) -> None:
    """The universe is built from the bytes it reads; if those differ from the last
    observation, it records them, so a later revert of the file is not mistaken for fresh."""
    path = settled / "tradeable_instruments" / "broker_a.csv"
    original = path.read_bytes()
    path.write_bytes(original + b"NSQ,US9,MID,Saved mid-run\n")
    defs = build_definitions()
    dg.materialize(materializable(defs), resources=defs.resources, instance=instance, selection=["tradeable_universe"])
    assert "MID" in (settled / "data/metadata/tradeable_universe.csv").read_text()
    path.write_bytes(original)  # reverted
    assert run_refresh(instance)[0] == "tradeable_universe"
    assert "MID" not in (settled / "data/metadata/tradeable_universe.csv").read_text()
