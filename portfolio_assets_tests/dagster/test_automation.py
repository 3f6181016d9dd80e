"""Declarative automation decides what runs: each SPEC 6 change, evaluated tick by tick
with `dg.evaluate_automation_conditions`, requests a run whose materializations are
exactly the stale assets, and the outputs then equal a from-scratch run."""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg
import pytest

from portfolio_assets.dagster_defs.automation import AUTOMATION_RUN_TAGS
from portfolio_assets.dagster_defs.output_checks import evaluate_outputs_tick
from portfolio_assets.dagster_defs.sources import record_observations
from portfolio_assets.definitions import build_definitions
from portfolio_assets.settings import settings_from_environment
from portfolio_assets.steps.registry import ASSET_KEYS as ALL

from ..helpers import (
    AAPL,
    BlockedRead,
    from_scratch,
    materializable,
    output_files,
    rewrite_keeping_size_and_mtime,
    write_file,
)


class Daemon:
    """What `dagster dev`'s daemon does, one step at a time: observe the sources (the
    observing sensors), report broken outputs (output_files_sensor), evaluate the
    automation condition, and run what it requested with the automation run tags."""

    def __init__(self, instance: dg.DagsterInstance) -> None:
        self.instance = instance
        self.last_evaluation: dg.EvaluateAutomationConditionsResult | None = None  # its cursor is the next's
        self.outputs_cursor: str | None = None

    def observe(self) -> None:
        settings = settings_from_environment()
        record_observations(self.instance, settings)
        events, self.outputs_cursor = evaluate_outputs_tick(self.instance, settings, self.outputs_cursor)
        for event in events:
            self.instance.report_runless_asset_event(event)

    def evaluate(self) -> set[str]:
        cursor = self.last_evaluation.cursor if self.last_evaluation else None
        result = dg.evaluate_automation_conditions(defs=build_definitions(), instance=self.instance, cursor=cursor)
        self.last_evaluation = result
        return {key for key in ALL if result.get_requested_partitions(dg.AssetKey(key))}

    def tick(self) -> set[str]:
        """Observe, evaluate, run what was requested; returns what that run materialized."""
        self.observe()
        requested = self.evaluate()
        if not requested:
            return set()
        defs = build_definitions()
        tags = {k: v for k, v in AUTOMATION_RUN_TAGS.items() if k != "dagster/max_retries"}
        result = dg.materialize(
            materializable(defs),
            resources=defs.resources,
            instance=self.instance,
            selection=[key for key in ALL if key in requested],
            tags=tags,
        )
        return {
            event.asset_key.to_user_string() for event in result.get_asset_materialization_events() if event.asset_key
        }


@pytest.fixture
def daemon(world: Path, instance: dg.DagsterInstance) -> Daemon:
    daemon = Daemon(instance)
    daemon.observe()
    assert daemon.evaluate() == set()  # Dagster's first evaluation only sets its cursor
    assert daemon.tick() == set(ALL)  # a fresh instance: everything is missing
    assert daemon.tick() == set()
    return daemon


def test_an_appended_instrument_its_undo_and_the_same_again(
    daemon: Daemon, world: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = world / "tradeable_instruments/broker_a.csv"
    original = path.read_bytes()
    appended = original + b"NSQ,US000001,ZZZZ,Matches nothing\n"
    for content in (appended, original, appended):  # the third used to be dropped (old run key)
        path.write_bytes(content)
        assert daemon.tick() == {"tradeable_universe", "match_report"}
        assert daemon.tick() == set()
        assert output_files(world) == from_scratch(world, tmp_path_factory)


def test_an_identical_resave_or_a_touch_runs_nothing(daemon: Daemon, world: Path) -> None:
    path = world / "tradeable_instruments/broker_a.csv"
    path.write_bytes(path.read_bytes())
    os.utime(path, (time.time() + 5, time.time() + 5))
    assert daemon.tick() == set()


def test_blank_lines_stop_at_the_universe(daemon: Daemon, world: Path) -> None:
    path = world / "tradeable_instruments/broker_a.csv"
    path.write_text(path.read_text() + "\n\n")
    assert daemon.tick() == {"tradeable_universe"}
    assert daemon.tick() == set()


def test_a_deleted_export_is_rebuilt_alone_every_time(
    daemon: Daemon, world: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    export = world / "data/processed/tradeable_prices/kim.us.csv"
    for _ in range(2):  # the same export deleted again after its rebuild
        export.unlink()
        assert daemon.tick() == {"price_exports"}
        assert export.is_file()
        assert daemon.tick() == set()
    assert output_files(world) == from_scratch(world, tmp_path_factory)


def test_an_edited_report_is_rebuilt(daemon: Daemon, world: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    report = world / "data/metadata/tradeable_unmatched.csv"
    report.write_text(report.read_text() + "edited by hand\n")
    assert daemon.tick() == {"match_report"}
    assert daemon.tick() == set()
    assert output_files(world) == from_scratch(world, tmp_path_factory)


def test_a_daily_update_of_a_matched_file(
    daemon: Daemon, world: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with open(world / AAPL, "a") as handle:
        handle.write("AAPL.US,D,20240105,000000,10,11,9,10.7,1200,0\n")
    assert daemon.tick() == {"stooq_index", "match_report", "price_exports", "price_store"}
    assert daemon.tick() == set()
    assert output_files(world) == from_scratch(world, tmp_path_factory)


def test_a_same_size_rewrite_with_its_mtime_put_back(
    daemon: Daemon, world: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    rewrite_keeping_size_and_mtime(world / AAPL)
    assert daemon.tick() == {"stooq_index", "match_report", "price_exports", "price_store"}
    assert daemon.tick() == set()
    assert "non_positive_close=1" in (world / "data/metadata/tradeable_matches.csv").read_text()
    assert (world / "data/processed/tradeable_prices/aapl.us.csv").read_text().endswith(",-1.5,1000,0\n")
    assert output_files(world) == from_scratch(world, tmp_path_factory)


def test_a_file_that_could_not_be_read_is_read_again_once_it_can_be(
    daemon: Daemon, world: Path, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with open(world / AAPL, "a") as handle:
        handle.write("AAPL.US,D,20240105,000000,10,11,9,10.7,1200,0\n")
    blocked = BlockedRead(monkeypatch, world / AAPL)
    assert daemon.tick() == {"stooq_index", "match_report", "price_exports", "price_store"}
    assert "error:PermissionError" in (world / "data/metadata/tradeable_matches.csv").read_text()
    assert not (world / "data/processed/tradeable_prices/aapl.us.csv").exists()
    assert daemon.tick() == set()  # still unreadable: no run on every tick
    blocked.blocked = False  # its stamp never moved: only the output files sensor can tell
    assert daemon.tick() == {"match_report", "price_exports", "price_store"}
    assert "20240105" in (world / "data/processed/tradeable_prices/aapl.us.csv").read_text()
    assert daemon.tick() == set()
    assert output_files(world) == from_scratch(world, tmp_path_factory)


def test_a_new_stooq_file_nobody_matches_stops_at_the_index(daemon: Daemon, world: Path) -> None:
    write_file(
        world / "data/stooq/d_us_txt/data/daily/us/nasdaq stocks/9/other.us.txt",
        "<TICKER>,<PER>,<DATE>,<TIME>,<OPEN>,<HIGH>,<LOW>,<CLOSE>,<VOL>,<OPENINT>\n",
    )
    assert daemon.tick() == {"stooq_index", "match_report"}
    assert daemon.tick() == set()


def test_a_setting_change_runs_only_what_it_affects(
    daemon: Daemon, world: Path, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    monkeypatch.setenv("PORTFOLIO_ASSETS_LSE_CURRENCY_POLICY", "stooq")  # a code location reload
    assert daemon.tick() == {"match_report"}
    assert daemon.tick() == set()
    monkeypatch.setenv("PORTFOLIO_ASSETS_INCLUDE_EMPTY", "true")
    assert daemon.tick() == {"price_exports", "price_store"}
    assert daemon.tick() == set()
    assert output_files(world) == from_scratch(world, tmp_path_factory)


def test_a_failed_run_is_not_requested_again_and_again(daemon: Daemon, world: Path) -> None:
    stooq = world / "data/stooq"
    stooq.rename(world / "away")
    stooq.mkdir()
    with pytest.raises(Exception, match="holds no"):  # observing an empty tree is fine; the run fails
        daemon.tick()
    assert daemon.evaluate() == set()  # retries come from the instance's run_retries, not the condition


def test_a_failing_first_run_is_not_requested_again_until_something_changes(
    world: Path, instance: dg.DagsterInstance
) -> None:
    lists = world / "tradeable_instruments"
    (lists / "broken.csv").write_bytes(b"name\nno symbol column\n")
    daemon = Daemon(instance)
    daemon.observe()
    assert daemon.evaluate() == set()
    with pytest.raises(Exception, match=r"broken\.csv"):
        daemon.tick()
    assert daemon.tick() == set()  # no failing run on every tick
    (lists / "broken.csv").unlink()
    assert "tradeable_universe" in daemon.tick()
