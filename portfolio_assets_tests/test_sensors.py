"""The sensors' ticks, evaluated directly with build_sensor_context."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import dagster as dg
import pytest

from portfolio_assets.core.settings import settings_from_environment
from portfolio_assets.core.watching import broker_folder_state, stooq_tree_state
from portfolio_assets.definitions import build_definitions, runnable
from portfolio_assets.refresh import refresh


def settle(path: Path) -> None:
    """Age a file past the settle time, as if written a minute ago."""
    past = time.time() - 60
    os.utime(path, (past, past))


@pytest.fixture
def settled(world: Path, instance) -> Path:
    for path in world.rglob("*"):
        if path.is_file():
            settle(path)
    assert refresh(build_definitions(), instance, settings_from_environment(), report=lambda _: None).success
    return world


def tick(instance, name: str, cursor: str | None = None):
    defs = build_definitions()
    sensor = defs.resolve_sensor_def(name)
    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs,
                                      resources=defs.resources, sensor_name=name)
    result = sensor(context)
    if isinstance(result, dg.SensorResult):
        for event in result.asset_events or []:
            instance.report_runless_asset_event(event)
    return result


def requested(result) -> list[list[str]]:
    requests = result.run_requests if isinstance(result, dg.SensorResult) else []
    return [[key.to_user_string() for key in request.asset_selection] for request in requests]


def test_no_change_skips(settled, instance) -> None:
    for name in ("tradeable_instruments_sensor", "stooq_files_sensor"):
        result = tick(instance, name)
        assert requested(result) == [] and result.asset_events == []
        assert "nothing is stale" in str(result.skip_reason)


def test_a_changed_broker_list_requests_only_the_stale_assets(settled, instance) -> None:
    path = settled / "tradeable_instruments/broker_a.csv"
    with open(path, "a") as handle:
        handle.write("NSQ,US5949181045,KIM,Kimco again\n")
    settle(path)
    first = tick(instance, "tradeable_instruments_sensor")
    assert requested(first) == [["tradeable_universe"]]
    assert [e.asset_key.to_user_string() for e in first.asset_events] == ["tradeable_instruments"]
    cursor = json.loads(first.cursor)
    assert cursor["fingerprint"] == broker_folder_state(path.parent, time.time()).fingerprint
    # The same state asks again with the same run key: Dagster launches it once.
    assert tick(instance, "tradeable_instruments_sensor", first.cursor).run_requests[0].run_key == \
        first.run_requests[0].run_key
    defs = build_definitions()
    dg.materialize(runnable(defs), resources=defs.resources, instance=instance, selection=["tradeable_universe"])
    second = tick(instance, "tradeable_instruments_sensor", first.cursor)
    assert requested(second) == [["match_report"]]
    assert second.cursor == first.cursor  # round trip: nothing new observed


def test_a_file_still_being_written_waits(settled, instance) -> None:
    with open(settled / "tradeable_instruments/broker_b.csv", "a") as handle:
        handle.write("NSQ,US1,HALF")
    result = tick(instance, "tradeable_instruments_sensor")
    assert isinstance(result, dg.SkipReason) and "broker_b.csv" in result.skip_message


def test_stooq_sensor_sees_a_daily_update(settled, instance) -> None:
    path = next((settled / "data/stooq").rglob("aapl.us.txt"))
    with open(path, "a") as handle:
        handle.write("AAPL.US,D,20240105,000000,10,11,9,10.7,1200,0\n")
    assert isinstance(tick(instance, "stooq_files_sensor"), dg.SkipReason)  # just written
    settle(path)
    first = tick(instance, "stooq_files_sensor")  # a new tree must look the same twice
    assert requested(first) == [] and "next tick" in str(first.skip_reason)
    result = tick(instance, "stooq_files_sensor", first.cursor)
    assert requested(result) == [["stooq_index", "match_report"]]


def test_a_missing_folder_is_a_clear_skip(settled, instance) -> None:
    (settled / "tradeable_instruments").rename(settled / "gone")
    result = tick(instance, "tradeable_instruments_sensor")
    assert isinstance(result, dg.SkipReason) and "tradeable_instruments" in result.skip_message


def test_folder_states_are_stat_and_content_fingerprints(settled) -> None:
    now = time.time()
    before = stooq_tree_state(settled / "data/stooq", now)
    assert before.file_count == 4 and before.unsettled == ()
    lists = broker_folder_state(settled / "tradeable_instruments", now)
    settle(settled / "tradeable_instruments/broker_a.csv")  # touched only: same content
    assert broker_folder_state(settled / "tradeable_instruments", now) == lists


def test_invalid_sensor_interval_names_the_variable(monkeypatch) -> None:
    monkeypatch.setenv("PORTFOLIO_ASSETS_TRADEABLE_SENSOR_SECONDS", "soon")
    with pytest.raises(ValueError, match="PORTFOLIO_ASSETS_TRADEABLE_SENSOR_SECONDS"):
        build_definitions()


def test_a_failed_sensor_run_is_retried_a_bounded_number_of_times(settled, instance) -> None:
    from portfolio_assets.sensors import PLAN_TAG, RETRIES

    path = settled / "tradeable_instruments/broker_a.csv"
    with open(path, "a") as handle:
        handle.write("NSQ,US1,NEW,New\n")
    settle(path)
    first = tick(instance, "tradeable_instruments_sensor")
    plan = first.run_requests[0].tags[PLAN_TAG]

    @dg.asset(name="failing")
    def failing():
        raise RuntimeError("disk full")

    keys = {first.run_requests[0].run_key}
    for _ in range(RETRIES + 1):
        dg.materialize([failing], instance=instance, tags={PLAN_TAG: plan}, raise_on_error=False)
        keys.add(tick(instance, "tradeable_instruments_sensor", first.cursor).run_requests[0].run_key)
    assert len(keys) == RETRIES + 1  # the first try, then RETRIES more, then no new key
