"""The sensors' ticks, evaluated directly with build_sensor_context."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import dagster as dg
import pytest

from portfolio_assets.cli.refresh import refresh
from portfolio_assets.definitions import build_definitions
from portfolio_assets.incremental.watching import broker_folder_state, stooq_tree_state
from portfolio_assets.settings import settings_from_environment

from ..helpers import AAPL, PROJECT, BlockedRead, rewrite_keeping_size_and_mtime


def settle(path: Path) -> None:
    """Age a file past the settle time, as if written a minute ago."""
    past = time.time() - 60
    os.utime(path, (past, past))


@pytest.fixture
def settled(world: Path, instance: dg.DagsterInstance) -> Path:
    for path in world.rglob("*"):
        if path.is_file():
            settle(path)
    assert refresh(build_definitions(), instance, settings_from_environment(), report=lambda _: None).success
    return world


def tick(instance: dg.DagsterInstance, name: str, cursor: str | None = None) -> dg.SensorResult | dg.SkipReason:
    """One tick of sensor `name`, its observations reported to `instance` as the daemon would."""
    defs = build_definitions()
    sensor = defs.resolve_sensor_def(name)
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, definitions=defs, resources=defs.resources, sensor_name=name
    )
    result = sensor(context)
    assert isinstance(result, dg.SensorResult | dg.SkipReason), f"{name} returned {result!r}"
    if isinstance(result, dg.SensorResult):
        for event in result.asset_events or []:
            instance.report_runless_asset_event(event)
    return result


def ticked(instance: dg.DagsterInstance, name: str, cursor: str | None = None) -> dg.SensorResult:
    """A tick that returns a SensorResult (observations, or why not, and a new cursor)."""
    result = tick(instance, name, cursor)
    assert isinstance(result, dg.SensorResult), f"{name} skipped: {result.skip_message}"
    return result


def observed(result: dg.SensorResult | dg.SkipReason) -> list[str]:
    events = result.asset_events if isinstance(result, dg.SensorResult) else []
    return [event.asset_key.to_user_string() for event in events]


def test_no_change_skips(settled: Path, instance: dg.DagsterInstance) -> None:
    for name in ("tradeable_instruments_sensor", "stooq_files_sensor"):
        result = ticked(instance, name)
        assert observed(result) == [] and not result.run_requests
        assert "as last observed" in str(result.skip_reason)


def test_a_changed_broker_list_is_observed_and_nothing_is_requested(
    settled: Path, instance: dg.DagsterInstance
) -> None:
    path = settled / "tradeable_instruments/broker_a.csv"
    with open(path, "a") as handle:
        handle.write("NSQ,US5949181045,KIM,Kimco again\n")
    settle(path)
    first = ticked(instance, "tradeable_instruments_sensor")
    assert observed(first) == ["tradeable_instruments"] and not first.run_requests
    fingerprint = broker_folder_state(path.parent, time.time()).fingerprint
    assert first.cursor is not None and json.loads(first.cursor)["fingerprint"] == fingerprint
    [observation] = first.asset_events
    assert isinstance(observation, dg.AssetObservation) and observation.tags["dagster/data_version"] == fingerprint
    second = ticked(instance, "tradeable_instruments_sensor", first.cursor)
    assert observed(second) == [] and not second.run_requests


def test_a_file_still_being_written_waits(settled: Path, instance: dg.DagsterInstance) -> None:
    with open(settled / "tradeable_instruments/broker_b.csv", "a") as handle:
        handle.write("NSQ,US1,HALF")
    result = tick(instance, "tradeable_instruments_sensor")
    assert isinstance(result, dg.SkipReason) and "broker_b.csv" in str(result.skip_message)


def test_stooq_sensor_sees_a_daily_update(settled: Path, instance: dg.DagsterInstance) -> None:
    path = next((settled / "data/stooq").rglob("aapl.us.txt"))
    with open(path, "a") as handle:
        handle.write("AAPL.US,D,20240105,000000,10,11,9,10.7,1200,0\n")
    assert isinstance(tick(instance, "stooq_files_sensor"), dg.SkipReason)  # just written
    settle(path)
    first = ticked(instance, "stooq_files_sensor")  # a new tree must look the same twice
    assert observed(first) == [] and "next tick" in str(first.skip_reason)
    result = ticked(instance, "stooq_files_sensor", first.cursor)
    assert observed(result) == ["stooq_files"] and not result.run_requests


def test_a_missing_folder_is_a_clear_skip(settled: Path, instance: dg.DagsterInstance) -> None:
    (settled / "tradeable_instruments").rename(settled / "gone")
    result = tick(instance, "tradeable_instruments_sensor")
    assert isinstance(result, dg.SkipReason) and "tradeable_instruments" in str(result.skip_message)


def test_folder_states_are_stat_and_content_fingerprints(settled: Path) -> None:
    now = time.time()
    before = stooq_tree_state(settled / "data/stooq", now)
    assert before.file_count == 4 and before.unsettled == ()
    lists = broker_folder_state(settled / "tradeable_instruments", now)
    settle(settled / "tradeable_instruments/broker_a.csv")  # touched only: same content
    assert broker_folder_state(settled / "tradeable_instruments", now) == lists


def test_invalid_sensor_interval_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTFOLIO_ASSETS_TRADEABLE_SENSOR_SECONDS", "soon")
    with pytest.raises(ValueError, match="PORTFOLIO_ASSETS_TRADEABLE_SENSOR_SECONDS"):
        build_definitions()


def test_failed_automation_runs_are_retried_by_the_instance_a_bounded_number_of_times() -> None:
    import yaml

    from portfolio_assets.dagster_defs.automation import AUTOMATION_RUN_TAGS, RETRIES

    config = yaml.safe_load((PROJECT / "dagster_home/dagster.yaml").read_text())
    assert config["run_retries"]["enabled"] is True
    assert AUTOMATION_RUN_TAGS["dagster/max_retries"] == str(RETRIES) and RETRIES >= 1
    sensor = build_definitions().resolve_sensor_def("portfolio_assets_automation")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_a_stooq_file_with_an_mtime_in_the_future_is_seen_at_the_next_tick(
    settled: Path, instance: dg.DagsterInstance
) -> None:
    # touch -d '+1 hour', or an archive unpacked from a zone ahead of this clock: the
    # sensor used to wait for the clock to pass the mtime.
    path = settled / AAPL
    with open(path, "a") as handle:
        handle.write("AAPL.US,D,20240105,000000,10,11,9,10.7,1200,0\n")
    ahead = time.time() + 3600
    os.utime(path, (ahead, ahead))
    first = ticked(instance, "stooq_files_sensor")  # a new tree must look the same twice
    assert observed(first) == [] and "next tick" in str(first.skip_reason)
    second = tick(instance, "stooq_files_sensor", first.cursor)
    assert observed(second) == ["stooq_files"]


def test_a_broker_list_with_an_mtime_in_the_future_is_seen_at_the_next_tick(
    settled: Path, instance: dg.DagsterInstance
) -> None:
    path = settled / "tradeable_instruments/broker_a.csv"
    with open(path, "a") as handle:
        handle.write("NSQ,US5949181045,KIM,Kimco again\n")
    ahead = time.time() + 3600
    os.utime(path, (ahead, ahead))
    assert observed(tick(instance, "tradeable_instruments_sensor")) == ["tradeable_instruments"]


def test_an_mtime_just_ahead_of_the_clock_still_counts_as_being_written(settled: Path) -> None:
    # A file server whose clock runs a second ahead: a file it is writing is not settled.
    path = settled / "tradeable_instruments/broker_b.csv"
    os.utime(path, (time.time() + 1, time.time() + 1))
    assert broker_folder_state(path.parent, time.time()).unsettled == ("broker_b.csv",)


def test_a_same_size_rewrite_with_its_mtime_put_back_is_seen(settled: Path, instance: dg.DagsterInstance) -> None:
    rewrite_keeping_size_and_mtime(settled / AAPL)  # `touch -r`: only the ctime tells
    first = ticked(instance, "stooq_files_sensor")
    assert observed(first) == [] and "next tick" in str(first.skip_reason)
    assert observed(tick(instance, "stooq_files_sensor", first.cursor)) == ["stooq_files"]


def test_the_output_sensor_reports_a_file_that_could_not_be_read_once_it_reads(
    settled: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read failure leaves the file's stamp as it was: the output files sensor is what tells
    the automation to read it again, once it can be read (not on every tick before)."""
    with open(settled / AAPL, "a") as handle:
        handle.write("AAPL.US,D,20240105,000000,10,11,9,10.7,1200,0\n")
    blocked = BlockedRead(monkeypatch, settled / AAPL)
    assert refresh(build_definitions(), instance, settings_from_environment(), report=lambda _: None).success
    still = ticked(instance, "output_files_sensor")
    assert not still.asset_events and "as written" in str(still.skip_reason)
    blocked.blocked = False
    readable = ticked(instance, "output_files_sensor", still.cursor)
    [failed] = readable.asset_events
    assert isinstance(failed, dg.AssetCheckEvaluation)
    assert failed.asset_key == dg.AssetKey("match_report") and failed.check_name == "outputs_intact"
    assert not failed.passed
    assert failed.metadata["problem"].value == (
        "1 matched file could not be read last time (PermissionError); 1 can be read now: reading again"
    )
    assert not ticked(instance, "output_files_sensor", readable.cursor).asset_events  # once per materialization
