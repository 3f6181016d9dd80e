"""Sensors that watch the raw inputs and only observe them.

Each tick a sensor fingerprints its input folder (waiting while a file is still
being written) and records a runless observation when the fingerprint moved.
What to materialize is decided by the assets' automation condition
(`dagster_defs/automation.py`), which reacts to the new data version; no sensor requests runs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import dagster as dg

from ..domain.errors import PortfolioInputError
from ..domain.stooq_tree import unpacked_folders
from ..incremental.watching import (
    FolderState,
    archive_stamps,
    archives_being_written,
    broker_folder_state,
    stooq_tree_state,
)
from ..instance.dagster_internals.library import DATA_VERSION_TAG
from ..instance.location_settings import record_location_settings
from ..settings import STOOQ_WALK_SECONDS, Settings, sensor_intervals
from .resources import PipelineSettings

__all__ = ["build_sensors", "evaluate_tick", "stooq_tick"]


def _latest_observed(instance: dg.DagsterInstance, key: str) -> str | None:
    records = instance.fetch_observations(dg.AssetKey(key), limit=1).records
    observation = records[0].asset_observation if records else None
    return observation.data_version if observation is not None else None


def evaluate_tick(
    context: dg.SensorEvaluationContext,
    settings: Settings,
    source: str,
    state_of: Callable[[], FolderState],
    folder: Path,
    confirm: bool = False,
    remember: Mapping[str, object] | None = None,
) -> dg.SensorResult | dg.SkipReason:
    """One tick of a source sensor: observe `source` when its fingerprint moved.

    With `confirm`, a new fingerprint must be seen on two ticks in a row before it
    counts: unzip gives extracted files the archive's old mtimes, so a tree being
    unpacked can look settled between two files. `remember` goes into the cursor of a
    tick that looked at the whole folder."""
    remember = dict(remember or {})
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
    latest = _latest_observed(context.instance, source)
    if confirm and state.fingerprint != latest and cursor.get("pending") != state.fingerprint:
        return dg.SensorResult(
            cursor=json.dumps({**cursor, **remember, "pending": state.fingerprint}),
            skip_reason=f"{folder} changed; observing it if it is the same on the next tick",
        )
    new_cursor = json.dumps({**remember, "fingerprint": state.fingerprint})
    if state.fingerprint == latest:
        return dg.SensorResult(cursor=new_cursor, skip_reason=f"{folder} is as last observed")
    context.log.info(f"{source} fingerprint {latest} -> {state.fingerprint}")
    observation = dg.AssetObservation(
        asset_key=dg.AssetKey(source),
        tags={DATA_VERSION_TAG: state.fingerprint},
        metadata={"file_count": state.file_count},
    )
    return dg.SensorResult(asset_events=[observation], cursor=new_cursor)


def stooq_tick(
    context: dg.SensorEvaluationContext, settings: Settings, walk_seconds: float, now: float | None = None
) -> dg.SensorResult | dg.SkipReason:
    """One tick of the Stooq sensor. Archives are stat-ed every tick; a folder with
    unpacked folders (100,000 files to stat) is walked only every `walk_seconds`, or at
    once when an archive changed or a change waits to be confirmed. While a changed
    archive is still being written nothing is walked: the walk would only wait for it."""
    now = time.time() if now is None else now
    cursor = json.loads(context.cursor) if context.cursor else {}
    archives = archive_stamps(settings.stooq_dir)
    seen_archives = cursor.get("archives")
    seen_archives = seen_archives if isinstance(seen_archives, dict) else {}
    changed = sorted(name for name, stamp in archives.items() if seen_archives.get(name) != stamp)
    writing = archives_being_written(settings.stooq_dir, changed, now)
    if writing:
        shown = ", ".join(writing[:3]) + (" ..." if len(writing) > 3 else "")
        return dg.SkipReason(f"waiting for files still being written: {shown}")
    walked = cursor.get("walked")
    if (
        isinstance(walked, int | float)
        and "pending" not in cursor
        and cursor.get("archives") == archives
        # A walk in the future (the clock was set back) makes a walk due.
        and 0 <= now - walked < walk_seconds
        and unpacked_folders(settings.stooq_dir)
    ):
        return dg.SkipReason(
            f"the archives of {settings.stooq_dir} are as last looked at; its unpacked folders are "
            f"walked every {walk_seconds:g} s ({STOOQ_WALK_SECONDS.variable})"
        )
    return evaluate_tick(
        context,
        settings,
        "stooq_files",
        lambda: stooq_tree_state(settings.stooq_dir, now),
        settings.stooq_dir,
        confirm=True,
        remember={"walked": now, "archives": archives},
    )


def build_sensors() -> list[dg.SensorDefinition]:
    """The two observing sensors, the output files sensor and the automation condition sensor."""
    from ..steps.registry import asset_keys
    from .automation import build_automation_sensor
    from .output_checks import build_output_files_sensor

    intervals = sensor_intervals()
    walk_seconds = STOOQ_WALK_SECONDS.read()

    @dg.sensor(
        minimum_interval_seconds=intervals["tradeable_instruments_sensor"],
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Observes the broker folder (names and bytes of every list) when it changed.",
    )
    def tradeable_instruments_sensor(
        context: dg.SensorEvaluationContext, settings: PipelineSettings
    ) -> dg.SensorResult | dg.SkipReason:
        resolved = settings.resolve()
        return evaluate_tick(
            context,
            resolved,
            "tradeable_instruments",
            lambda: broker_folder_state(resolved.tradeable_dir, time.time()),
            resolved.tradeable_dir,
        )

    @dg.sensor(
        minimum_interval_seconds=intervals["stooq_files_sensor"],
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Observes the Stooq tree (stat only) when it changed and looks the same on two ticks: "
        "its archives every tick, its unpacked folders every PORTFOLIO_ASSETS_STOOQ_WALK_SECONDS.",
    )
    def stooq_files_sensor(
        context: dg.SensorEvaluationContext, settings: PipelineSettings
    ) -> dg.SensorResult | dg.SkipReason:
        resolved = settings.resolve()
        return stooq_tick(context, resolved, walk_seconds)

    return [
        tradeable_instruments_sensor,
        stooq_files_sensor,
        build_output_files_sensor(intervals["output_files_sensor"]),
        build_automation_sensor(asset_keys(), intervals["portfolio_assets_automation"]),
    ]
