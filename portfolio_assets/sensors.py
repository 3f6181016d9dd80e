"""Sensors that keep the assets up to date with no clicks.

Each tick a sensor fingerprints its input folder (waiting while a file is
still being written), records a new observation when the fingerprint moved,
and requests one run of exactly the assets that are then stale or missing,
leaving out any already in a queued or running run. Staleness is one hop in
Dagster 1.13, so a change travels down the chain over successive ticks; the
run key names the state it was planned from, so the same state never launches
two runs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg

from .assets import ASSET_KEYS
from .core.errors import PortfolioInputError
from .core.fingerprints import combine
from .core.settings import Settings, sensor_intervals
from .core.watching import FolderState, broker_folder_state, stooq_tree_state
from .location_settings import record_location_settings
from .resources import PipelineSettings
from .runs import in_flight_assets
from .staleness import asset_statuses

__all__ = ["build_sensors", "evaluate_tick"]

PLAN_TAG = "portfolio_assets/plan"
RETRIES = 2

def _latest_observed(instance: dg.DagsterInstance, key: str) -> str | None:
    records = instance.fetch_observations(dg.AssetKey(key), limit=1).records
    return records[0].asset_observation.data_version if records else None


def evaluate_tick(context: dg.SensorEvaluationContext, settings: Settings, source: str,
                  state_of: Callable[[], FolderState], folder: Path,
                  confirm: bool = False) -> dg.SensorResult | dg.SkipReason:
    """One tick of a source sensor: observe `source`, then request a run of what is stale.

    With `confirm`, a new fingerprint must be seen on two ticks in a row before it
    counts: unzip gives extracted files the archive's old mtimes, so a tree being
    unpacked can look settled between two files."""
    cursor = json.loads(context.cursor) if context.cursor else {}
    try:
        # What this code location runs with, so `refresh` can refuse settings these ticks would undo.
        record_location_settings(Path(context.instance.root_directory), settings)
    except (OSError, dg.DagsterInvariantViolationError) as error:  # never worth failing a tick over
        context.log.warning(f"could not record this location's settings: {error}")
    if not folder.is_dir():
        return dg.SkipReason(f"{folder} does not exist; set the folder's PORTFOLIO_ASSETS_* variable")
    try:
        state = state_of()
    except (PortfolioInputError, OSError) as error:
        return dg.SkipReason(f"could not read {folder}: {error}; trying again next tick")
    if state.unsettled:
        shown = ", ".join(state.unsettled[:3]) + (" ..." if len(state.unsettled) > 3 else "")
        return dg.SkipReason(f"waiting for files still being written: {shown}")
    instance = context.instance
    latest = _latest_observed(instance, source)
    if confirm and state.fingerprint != latest and cursor.get("pending") != state.fingerprint:
        return dg.SensorResult(cursor=json.dumps({**cursor, "pending": state.fingerprint}),
                               skip_reason=f"{folder} changed; acting if it is the same on the next tick")
    events = []
    if state.fingerprint != latest:
        events.append(dg.AssetObservation(
            asset_key=dg.AssetKey(source), tags={"dagster/data_version": state.fingerprint},
            metadata={"file_count": state.file_count}))
    statuses = asset_statuses(context.repository_def.asset_graph, instance, settings, ASSET_KEYS,
                              overrides={source: state.fingerprint})
    busy = in_flight_assets(instance)
    due = [s for s in statuses if s.status != "fresh" and s.key not in busy]
    new_cursor = json.dumps({"fingerprint": state.fingerprint})
    if not due:
        reason = "nothing is stale" if not busy else f"waiting for the run of {', '.join(sorted(busy))}"
        return dg.SensorResult(asset_events=events, cursor=new_cursor, skip_reason=reason)
    materialized = [str(getattr(instance.get_latest_materialization_event(dg.AssetKey(key)), "storage_id", None))
                    for key in ASSET_KEYS]
    plan = combine(source, state.fingerprint, *[s.key for s in due], *materialized)
    # The same plan launches once; if that run fails or is cancelled it may be tried
    # again, up to RETRIES more times, rather than never (or on every tick).
    failed = len(instance.get_runs(filters=dg.RunsFilter(
        tags={PLAN_TAG: plan}, statuses=[dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED])))
    run_key = f"{plan}:{min(failed, RETRIES)}"
    causes = {s.key: "; ".join(s.causes) for s in due}
    context.log.info(f"{source} fingerprint {cursor.get('fingerprint')} -> {state.fingerprint}; "
                     f"requesting {', '.join(causes)}: {causes}")
    request = dg.RunRequest(run_key=run_key, asset_selection=[dg.AssetKey(s.key) for s in due],
                            tags={"portfolio_assets/trigger": context.sensor_name or source, PLAN_TAG: plan})
    return dg.SensorResult(run_requests=[request], asset_events=events, cursor=new_cursor)


def build_sensors() -> list[dg.SensorDefinition]:
    intervals = sensor_intervals()
    target = dg.AssetSelection.assets(*ASSET_KEYS)

    @dg.sensor(target=target, minimum_interval_seconds=intervals["tradeable_instruments_sensor"],
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Watches the broker folder (content fingerprint) and runs what is stale.")
    def tradeable_instruments_sensor(context: dg.SensorEvaluationContext, settings: PipelineSettings):
        resolved = settings.resolve()
        return evaluate_tick(context, resolved, "tradeable_instruments",
                             lambda: broker_folder_state(resolved.tradeable_dir, time.time()),
                             resolved.tradeable_dir)

    @dg.sensor(target=target, minimum_interval_seconds=intervals["stooq_files_sensor"],
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Watches the Stooq tree (stat only) and runs what is stale.")
    def stooq_files_sensor(context: dg.SensorEvaluationContext, settings: PipelineSettings):
        resolved = settings.resolve()
        return evaluate_tick(context, resolved, "stooq_files",
                             lambda: stooq_tree_state(resolved.stooq_dir, time.time()), resolved.stooq_dir,
                             confirm=True)

    return [tradeable_instruments_sensor, stooq_files_sensor]
