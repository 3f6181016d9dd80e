"""The four software-defined assets; each runs its step from the registry of steps
(`steps/registry.py`) and turns the result into a materialization with metadata.

No `from __future__ import annotations` here: Dagster reads the parameter types
(config, resources) at definition time."""

import functools
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import dagster as dg

from ..domain.broker_lists import UNIVERSE_COLUMNS
from ..domain.reports import MATCH_COLUMNS, UNMATCHED_COLUMNS
from ..domain.settings import (
    SETTING_VARIABLES,
    Settings,
    price_exports_freshness_hours,
    settings_from_environment,
)
from ..domain.stooq_tree import INDEX_COLUMNS
from ..instance.dagster_internals.library import DATA_VERSION_TAG, AnyAssetGraph, asset_graph_of, input_data_version_tag
from ..instance.memo_tags import ExportStepConfig, StepConfig, memo_tags, previous_memo
from ..instance.runs import keep_heartbeat, process_tags
from ..instance.stale_status import asset_statuses, current_data_version
from ..steps.common import StepResult
from ..steps.match_report import ReportResult
from ..steps.price_exports import ExportResult
from ..steps.registry import ASSET_KEYS, get_step, result_settings, step_code_version
from ..steps.stooq_index import IndexResult
from ..steps.tradeable_universe import UniverseResult
from .checks import AssetChecks, build_checks
from .failures import failing_clearly
from .metadata import change_metadata, counts_table, csv_preview, report_shape
from .output_checks import latest_output_stamp
from .resources import PipelineSettings
from .sources import GROUP, observed_scan, stooq_files, tradeable_instruments

__all__ = ["DUE_TAG", "POOL", "SKIP_FRESH_TAG", "build_pipeline_assets"]

# Every asset is in this pool; the project's instance (dagster_home/dagster.yaml) limits
# it to 1, so runs from the UI, sensors and the shell never write outputs at once.
POOL = "portfolio_assets"


def _path(path: Path) -> dg.MetadataValue:
    return dg.MetadataValue.path(str(path))


SKIP_FRESH_TAG = "portfolio_assets/skip_fresh"
# The assets the launcher of a skip_fresh run (refresh) judged stale or missing with
# Dagster's resolver just before launching it: they are not judged again in the run.
DUE_TAG = "portfolio_assets/due"


# The whole pipeline's asset graph, sources included, for Dagster's stale status inside a
# run: a run's own job graph knows the sources only as stubs without observations.
PipelineGraph = Callable[[], AnyAssetGraph]
R = TypeVar("R", bound=StepResult)


def _fresh_in_this_run(context: dg.AssetExecutionContext, resolved: Settings, graph: PipelineGraph) -> bool:
    """In a refresh run (tagged), an asset whose inputs did not change after all stays
    unmaterialized, and Dagster skips what depends on it."""
    if context.run.tags.get(SKIP_FRESH_TAG) != "true":
        return False
    key = context.asset_key.to_user_string()
    if key in context.run.tags.get(DUE_TAG, "").split(","):
        return False  # judged stale or missing at launch: judging again costs a resolver (~75 ms)
    status = asset_statuses(graph(), context.instance, resolved, [key])[0]
    if status.status == "fresh":
        context.log.info(f"{key} is fresh: its inputs did not change; not materializing")
    return status.status == "fresh"


def _run_step(
    context: dg.AssetExecutionContext,
    config: StepConfig,
    settings: PipelineSettings,
    graph: PipelineGraph,
    result_type: type[R],
    **inputs: object,
) -> tuple[Settings, R | None]:
    """Run the asset's step (from the registry) with `inputs`, or None when it is fresh in this run."""
    resolved = settings.resolve()
    name = context.asset_key.to_user_string()
    loaded_with = settings_from_environment()
    if resolved != loaded_with or (
        step_code_version(name, resolved) != context.assets_def.code_versions_by_key[context.asset_key]
    ):
        # Code versions carry the settings the definitions were loaded with, and the
        # sources are observed at the configured folders: a run with other values would
        # record results under the wrong versions.
        changed = {
            field: getattr(resolved, field)
            for field in SETTING_VARIABLES
            if getattr(resolved, field) != getattr(loaded_with, field)
        }
        raise dg.Failure(
            description=(
                f"the settings of this run ({changed or result_settings(name, resolved)}) differ from those the "
                "code location was loaded with; change the PORTFOLIO_ASSETS_* variables and reload instead "
                "of overriding the settings resource in the launchpad"
            )
        )
    context.instance.add_run_tags(context.run.run_id, process_tags())
    keep_heartbeat(context.instance, context.run.run_id)
    if _fresh_in_this_run(context, resolved, graph):
        return resolved, None
    previous = previous_memo(context.instance, context.asset_key)
    with failing_clearly():
        result = get_step(name).build(resolved, previous, config.force, **inputs)
    if not isinstance(result, result_type):  # the registry and this asset disagree: a programming error
        raise TypeError(f"step {name} returned {type(result).__name__}, not {result_type.__name__}")
    for warning in getattr(result, "warnings", []):
        context.log.warning(warning)
    if result.reused:
        context.log.info(
            "inputs, code and settings equal the last materialization's and its "
            "files are intact: reusing them without rewriting (force=true recomputes)"
        )
    return resolved, result


def _source_read(context: dg.AssetExecutionContext, source: str, version: str) -> dict[str, str]:
    """Make the source version this asset actually read its recorded input version.

    Dagster records the version last observed before the step started; if the input
    changed in between, that describes other bytes than the ones read, and a later
    revert of the input would look fresh. So the version read is observed (when new)
    and returned as the materialization's input tag, which overrides Dagster's."""
    if version != current_data_version(context.instance, source):
        context.instance.report_runless_asset_event(
            dg.AssetObservation(asset_key=dg.AssetKey(source), tags={DATA_VERSION_TAG: version})
        )
    return {input_data_version_tag(source): version}


def _selected_checks(context: dg.AssetExecutionContext) -> set[str]:
    return {key.name for key in context.selected_asset_check_keys}


def _checks_alone(
    context: dg.AssetExecutionContext, checks: AssetChecks, key: str, settings: PipelineSettings
) -> Iterator[dg.AssetCheckResult]:
    """The asset's selected checks, judged from the files of its latest materialization:
    what the step does when only checks were selected (the UI's "Execute checks")."""
    resolved = settings.resolve()
    stamp = latest_output_stamp(context.instance, key)
    yield from checks.evaluate(key, resolved, _selected_checks(context), stamp)


def _materialize_result(
    context: dg.AssetExecutionContext,
    checks: AssetChecks,
    step: str,
    resolved: Settings,
    result: StepResult,
    metadata: Mapping[str, Any],
    input_tags: dict[str, str] | None = None,
) -> dg.MaterializeResult[None]:
    """The materialization, with the selected checks evaluated on the files the step just
    wrote (its output stamp is the one being recorded)."""
    chosen = result_settings(step, resolved)
    return dg.MaterializeResult(
        asset_key=step,
        data_version=dg.DataVersion(result.data_version),
        tags={**memo_tags(result.memo, chosen), **(input_tags or {})},
        metadata={"reused": result.reused, **{f"setting_{k}": v for k, v in chosen.items()}, **metadata},
        check_results=checks.evaluate(step, resolved, _selected_checks(context), result.memo.output_stamp),
    )


def build_pipeline_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    """The four assets, with code versions for the settings they were loaded with.

    price_exports carries a FreshnessPolicy: the UI shows it overdue when it has not
    materialized for PORTFOLIO_ASSETS_FRESHNESS_HOURS (the daily update is late). Like
    the price lag check's threshold, that window changes no result, so no code version."""
    freshness = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=price_exports_freshness_hours()))
    checks = build_checks(ASSET_KEYS)

    def pipeline_asset(
        key: str, deps: list[str], description: str, freshness_policy: dg.FreshnessPolicy | None = None
    ) -> Callable[[Callable[..., Iterator[dg.MaterializeResult[None] | dg.AssetCheckResult]]], dg.AssetsDefinition]:
        """One asset and its checks in one step (op `key`, in the pool). can_subset lets a run
        select the checks alone, and lets the step skip materializing (fresh in this run)."""
        return dg.multi_asset(
            name=key,
            specs=[
                dg.AssetSpec(
                    key,
                    group_name=GROUP,
                    deps=deps,
                    kinds={"python", "csv"},
                    code_version=step_code_version(key, settings),
                    description=description,
                    skippable=True,
                    freshness_policy=freshness_policy,
                )
            ],
            check_specs=checks.specs[key],
            pool=POOL,
            can_subset=True,
        )

    @pipeline_asset(
        "stooq_index",
        deps=[stooq_files.key.to_user_string()],
        description="Every counted Stooq file with ticker, region and category (stooq_index.csv).",
    )
    def stooq_index(
        context: dg.AssetExecutionContext, config: StepConfig, settings: PipelineSettings
    ) -> Iterator[dg.MaterializeResult[None] | dg.AssetCheckResult]:
        if not context.selected_asset_keys:
            yield from _checks_alone(context, checks, "stooq_index", settings)
            return
        scan = observed_scan(settings.resolve(), current_data_version(context.instance, "stooq_files"))
        resolved, result = _run_step(context, config, settings, pipeline_graph, IndexResult, scan=scan)
        if result is None:
            return
        read = _source_read(context, "stooq_files", result.source_version)
        yield _materialize_result(
            context,
            checks,
            "stooq_index",
            resolved,
            result,
            input_tags=read,
            metadata={
                "path": _path(resolved.index_path),
                **report_shape(INDEX_COLUMNS, len(result.entries)),
                "seconds": result.seconds,
                "rows_by_region": counts_table("region", result.rows_by_region),
                "preview": csv_preview(INDEX_COLUMNS, [e.as_row() for e in result.entries]),
            },
        )

    @pipeline_asset(
        "tradeable_universe",
        deps=[tradeable_instruments.key.to_user_string()],
        description="Every broker instrument, list by list, row by row (tradeable_universe.csv).",
    )
    def tradeable_universe(
        context: dg.AssetExecutionContext, config: StepConfig, settings: PipelineSettings
    ) -> Iterator[dg.MaterializeResult[None] | dg.AssetCheckResult]:
        if not context.selected_asset_keys:
            yield from _checks_alone(context, checks, "tradeable_universe", settings)
            return
        resolved, result = _run_step(context, config, settings, pipeline_graph, UniverseResult)
        if result is None:
            return
        read = _source_read(context, "tradeable_instruments", result.source_version)
        yield _materialize_result(
            context,
            checks,
            "tradeable_universe",
            resolved,
            result,
            input_tags=read,
            metadata={
                "path": _path(resolved.universe_path),
                **report_shape(UNIVERSE_COLUMNS, result.instrument_count),
                "seconds": result.seconds,
                **result.stats,
                "rows_by_source_file": counts_table("source_file", result.rows_by_source_file),
                "broker_list_hashes": dg.MetadataValue.json(result.list_hashes),
                "preview": csv_preview(UNIVERSE_COLUMNS, result.preview),
            },
        )

    @pipeline_asset(
        "match_report",
        deps=["stooq_index", "tradeable_universe", stooq_files.key.to_user_string()],
        description="Each instrument matched to a Stooq file with diagnostics and currency "
        "(tradeable_matches.csv), or why not (tradeable_unmatched.csv).",
    )
    def match_report(
        context: dg.AssetExecutionContext, config: StepConfig, settings: PipelineSettings
    ) -> Iterator[dg.MaterializeResult[None] | dg.AssetCheckResult]:
        if not context.selected_asset_keys:
            yield from _checks_alone(context, checks, "match_report", settings)
            return
        resolved, result = _run_step(context, config, settings, pipeline_graph, ReportResult, run_id=context.run.run_id)
        if result is None:
            return
        summary = result.summary
        context.log.info(f"changes since the previous reports: {result.changes.counts.summary()}")
        yield _materialize_result(
            context,
            checks,
            "match_report",
            resolved,
            result,
            {
                "match_report_path": _path(resolved.match_report_path),
                "unmatched_report_path": _path(resolved.unmatched_report_path),
                "instrument_count": summary.matched_count + summary.unmatched_count,
                "report_hash": result.report_hash or "(reused)",
                "matched_count": summary.matched_count,
                **report_shape(MATCH_COLUMNS, summary.matched_count),
                "unmatched_count": summary.unmatched_count,
                **change_metadata(result.changes),
                **result.stats,
                "by_strategy": counts_table("strategy", summary.counts["strategy"]),
                "by_data_status": counts_table("data_status", summary.counts["data_status"]),
                "by_currency_status": counts_table("currency_status", summary.counts["currency_status"]),
                "unmatched_by_reason": counts_table("reason", summary.counts["reason"]),
                "match_preview": csv_preview(MATCH_COLUMNS, summary.match_preview),
                "unmatched_preview": csv_preview(UNMATCHED_COLUMNS, summary.unmatched_preview),
            },
        )

    @pipeline_asset(
        "price_exports",
        deps=["match_report"],
        description="One clean price CSV per matched ticker (<ticker>.csv in the prices folder).",
        freshness_policy=freshness,
    )
    def price_exports(
        context: dg.AssetExecutionContext, config: ExportStepConfig, settings: PipelineSettings
    ) -> Iterator[dg.MaterializeResult[None] | dg.AssetCheckResult]:
        if not context.selected_asset_keys:
            yield from _checks_alone(context, checks, "price_exports", settings)
            return
        resolved, result = _run_step(
            context, config, settings, pipeline_graph, ExportResult, adopt_exports=config.adopt_exports
        )
        if result is None:
            return
        if result.strays:
            context.log.warning(
                f"{len(result.strays)} CSV file(s) in {resolved.prices_dir} were not written by the pipeline "
                f"and are left alone: {', '.join(result.strays[:10])}"
            )
        yield _materialize_result(
            context,
            checks,
            "price_exports",
            resolved,
            result,
            {
                "path": _path(resolved.prices_dir),
                "files_not_written_by_the_pipeline": dg.MetadataValue.md(
                    "\n".join(f"- {name}" for name in result.strays[:50]) or "(none)"
                ),
                "export_count": len(result.exported),
                "exports_written": len(result.written),
                "exports_untouched": len(result.untouched) + len(result.unchanged),
                "exports_removed": len(result.removed),
                "exports_adopted": len(result.adopted),
                **result.stats,
                "preview": dg.MetadataValue.md(
                    "\n".join(f"- {name}" for name in result.exported[:20]) or "(no exports)"
                ),
            },
        )

    pipeline = [stooq_index, tradeable_universe, match_report, price_exports]

    @functools.cache
    def pipeline_graph() -> AnyAssetGraph:
        return asset_graph_of([stooq_files, tradeable_instruments, *pipeline])

    return pipeline
