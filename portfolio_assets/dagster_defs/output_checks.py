"""Output files Dagster cannot see: each asset's `outputs_intact` check, and the sensor
that reports a failed evaluation of it when a file was deleted or changed on disk.

Dagster knows materializations, not files. The automation condition rebuilds an
asset whose blocking check newly failed, so a deleted export becomes a rebuild of
`price_exports` alone. The sensor ties each failure to the materialization it
judged (read before looking at the files), so a rebuild that lands meanwhile is
never mistaken for broken, and it reports once per materialization: deleting the
same file again after the rebuild is a new failure.

The same way, a match report that says matched files could not be read
(`error:PermissionError`, ...) is reported once one of them can be read again, so
that the automation reads them again: their outcome came from a failed read, not
from their bytes, and their stamp need not move when a read works again (a share
back, a lock gone). Waiting until one reads keeps a file that stays unreadable from
rerunning match_report on every tick.

No `from __future__ import annotations`: Dagster reads the sensor's parameter types.
"""

import json

import dagster as dg

from ..incremental.file_summaries import readable_now
from ..incremental.memo import output_stamp
from ..incremental.stooq_sources import StooqSources
from ..instance.dagster_internals.library import materialization_target
from ..instance.memo_tags import OUTPUT_STAMP_TAG
from ..instance.runs import in_flight_assets
from ..instance.stale_status import describe_path
from ..settings import Settings
from ..steps.match_report import describe_not_read, files_not_read
from ..steps.registry import asset_keys, output_paths
from .resources import PipelineSettings

__all__ = [
    "OUTPUTS_INTACT",
    "build_output_files_sensor",
    "evaluate_outputs_tick",
    "latest_output_stamp",
    "outputs_intact_result",
    "outputs_intact_spec",
    "outputs_problem",
]

OUTPUTS_INTACT = "outputs_intact"


def outputs_problem(key: str, settings: Settings, recorded_stamp: str | None) -> str | None:
    """What is wrong with the files `key`'s last materialization wrote, or None."""
    try:
        paths = output_paths(key, settings)
    except ValueError as error:  # the report the exports are planned from is damaged
        return str(error)
    missing = [path for path in paths if not path.is_file()]
    if missing:
        more = f" (and {len(missing) - 1} more files)" if len(missing) > 1 else ""
        return f"{describe_path(missing[0])} is missing{more}"
    if recorded_stamp is not None and output_stamp(paths) != recorded_stamp:
        return "its output files were changed on disk since they were written"
    return None


def _latest(instance: dg.DagsterInstance, key: str) -> dg.EventLogRecord | None:
    records = instance.fetch_materializations(dg.AssetKey(key), limit=1).records
    return records[0] if records else None


def _recorded_stamp(record: dg.EventLogRecord | None) -> str | None:
    materialization = record.asset_materialization if record is not None else None
    return (materialization.tags or {}).get(OUTPUT_STAMP_TAG) if materialization is not None else None


def outputs_intact_spec(key: str) -> dg.AssetCheckSpec:
    """`key`'s outputs_intact check: blocking, so a failure reported by the sensor rebuilds it."""
    return dg.AssetCheckSpec(
        OUTPUTS_INTACT,
        asset=key,
        blocking=True,
        description="Every file the last materialization wrote is on disk, unchanged. A sensor "
        "reports a failure when one is deleted or edited (or, for match_report, when a matched file "
        "it could not read can be read again), and the asset is rebuilt.",
    )


def outputs_intact_result(key: str, settings: Settings, recorded_stamp: str | None) -> dg.AssetCheckResult:
    """The check's result for the materialization that recorded `recorded_stamp`."""
    problem = outputs_problem(key, settings, recorded_stamp)
    return dg.AssetCheckResult(passed=problem is None, metadata={"problem": problem or "none"})


def latest_output_stamp(instance: dg.DagsterInstance, key: str) -> str | None:
    """The output stamp `key`'s latest materialization recorded."""
    return _recorded_stamp(_latest(instance, key))


def _failed(key: str, record: dg.EventLogRecord, problem: str) -> dg.AssetCheckEvaluation:
    return dg.AssetCheckEvaluation(
        asset_key=dg.AssetKey(key),
        check_name=OUTPUTS_INTACT,
        passed=False,
        metadata={"problem": problem},
        target_materialization_data=materialization_target(record),
    )


def evaluate_outputs_tick(
    instance: dg.DagsterInstance, settings: Settings, cursor: str | None
) -> tuple[list[dg.AssetCheckEvaluation], str]:
    """Failed `outputs_intact` evaluations to report, and the new cursor (for each asset, the
    materialization already reported)."""
    reported: dict[str, int] = json.loads(cursor) if cursor else {}
    busy = in_flight_assets(instance)  # a run rewriting its files is not a deletion
    events = []
    for key in asset_keys():
        record = _latest(instance, key)
        if key in busy or record is None or reported.get(key) == record.storage_id:
            continue
        problem = outputs_problem(key, settings, _recorded_stamp(record))
        if problem is None and key == "match_report":
            problem = _readable_again(settings)
        if problem is not None:
            events.append(_failed(key, record, problem))
            reported[key] = record.storage_id
    return events, json.dumps(reported, sort_keys=True)


def _readable_again(settings: Settings) -> str | None:
    """Why match_report must read again: files it could not read, one of which reads now."""
    not_read = files_not_read(settings)
    sources = StooqSources(settings.stooq_dir)
    readable = sum(readable_now(sources.locate(path)) for path in not_read)
    if not readable:
        return None
    return f"{describe_not_read(not_read)}; {readable} can be read now: reading again"


def build_output_files_sensor(interval_seconds: int) -> dg.SensorDefinition:
    @dg.sensor(
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Reports an asset's outputs_intact check as failed when a file it wrote was "
        "deleted or changed on disk; the automation condition then rebuilds that asset.",
    )
    def output_files_sensor(context: dg.SensorEvaluationContext, settings: PipelineSettings) -> dg.SensorResult:
        events, cursor = evaluate_outputs_tick(context.instance, settings.resolve(), context.cursor)
        if not events:
            return dg.SensorResult(cursor=cursor, skip_reason="every output file is as written")
        context.log.info("; ".join(f"{e.asset_key.to_user_string()}: {e.metadata['problem'].value}" for e in events))
        return dg.SensorResult(asset_events=events, cursor=cursor)

    return output_files_sensor
