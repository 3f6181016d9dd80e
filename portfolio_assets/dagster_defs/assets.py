"""The software-defined assets, one per registry entry (`steps/registry.py`), all made by
`_pipeline_asset`: each runs its step and turns the result into a materialization with
the entry's metadata and checks.

No `from __future__ import annotations` here: Dagster reads the parameter types
(config, resources) at definition time."""

import functools
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta

import dagster as dg

from ..instance.dagster_internals.library import DATA_VERSION_TAG, AnyAssetGraph, asset_graph_of, input_data_version_tag
from ..instance.memo_tags import ExportStepConfig, StepConfig, memo_tags, previous_memo
from ..instance.runs import keep_heartbeat, process_tags
from ..instance.stale_status import asset_statuses, current_data_version
from ..settings import FRESHNESS_HOURS, SETTING_VARIABLES, Settings
from ..steps.common import StepResult
from ..steps.registry import PipelineAsset, get_asset, registered_assets, result_settings, step_code_version
from .checks import AssetChecks, build_checks
from .failures import failing_clearly
from .metadata import dagster_metadata
from .output_checks import latest_output_stamp
from .resources import PipelineSettings
from .sources import GROUP, observed_scan, stooq_files, tradeable_instruments

__all__ = ["DUE_TAG", "POOL", "SKIP_FRESH_TAG", "build_pipeline_assets"]

# Every asset is in this pool; the project's instance (dagster_home/dagster.yaml) limits
# it to 1, so runs from the UI, sensors and the shell never write outputs at once.
POOL = "portfolio_assets"


SKIP_FRESH_TAG = "portfolio_assets/skip_fresh"
# The assets the launcher of a skip_fresh run (refresh) judged stale or missing with
# Dagster's resolver just before launching it: they are not judged again in the run.
DUE_TAG = "portfolio_assets/due"


# The whole pipeline's asset graph, sources included, for Dagster's stale status inside a
# run: a run's own job graph knows the sources only as stubs without observations.
PipelineGraph = Callable[[], AnyAssetGraph]


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
    loaded_with: Settings,
    **inputs: object,
) -> tuple[Settings, StepResult | None]:
    """Run the asset's step (from the registry) with `inputs`, or None when it is fresh in
    this run. `loaded_with`: the settings the definitions were built with."""
    resolved = settings.resolve()
    name = context.asset_key.to_user_string()
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
        result = get_asset(name).build(resolved, previous, config.force, **inputs)
    for warning in result.input_warnings():
        context.log.warning(warning)
    if result.reused:
        context.log.info(
            "inputs, code and settings equal the last materialization's and its "
            "files are intact: reusing them without rewriting (force=true recomputes)"
        )
    for level, line in result.log_lines():
        (context.log.warning if level == "warning" else context.log.info)(line)
    return resolved, result


def _source_read(context: dg.AssetExecutionContext, source: str, result: StepResult) -> dict[str, str]:
    """Make the source version this asset actually read its recorded input version.

    Dagster records the version last observed before the step started; if the input
    changed in between, that describes other bytes than the ones read, and a later
    revert of the input would look fresh. So the version read is observed (when new)
    and returned as the materialization's input tag, which overrides Dagster's."""
    version = getattr(result, "source_version")  # noqa: B009  every step reading a source reports it
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
    metadata: Mapping[str, dg.MetadataValue],
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


def _run_inputs(
    asset: PipelineAsset, context: dg.AssetExecutionContext, config: StepConfig, settings: PipelineSettings
) -> dict[str, object]:
    """What the step takes from the run (the registry's RUN_INPUTS)."""
    inputs: dict[str, object] = {}
    if "scan" in asset.run_inputs:
        inputs["scan"] = observed_scan(settings.resolve(), current_data_version(context.instance, "stooq_files"))
    if "run_id" in asset.run_inputs:
        inputs["run_id"] = context.run.run_id
    if "adopt_exports" in asset.run_inputs:
        inputs["adopt_exports"] = isinstance(config, ExportStepConfig) and config.adopt_exports
    return inputs


def _pipeline_asset(
    asset: PipelineAsset,
    loaded_with: Settings,
    checks: AssetChecks,
    graph: PipelineGraph,
    freshness: dg.FreshnessPolicy,
) -> dg.AssetsDefinition:
    """The asset of registry entry `asset` and its checks in one step (op `key`, in the
    pool). can_subset lets a run select the checks alone, and lets the step skip
    materializing (fresh in this run). `loaded_with`: the settings the definitions are
    built with, which its code version carries."""
    key = asset.key
    config_type = ExportStepConfig if "adopt_exports" in asset.run_inputs else StepConfig

    def materialize(
        context: dg.AssetExecutionContext, config: StepConfig, settings: PipelineSettings
    ) -> Iterator[dg.MaterializeResult[None] | dg.AssetCheckResult]:
        if not context.selected_asset_keys:
            yield from _checks_alone(context, checks, key, settings)
            return
        inputs = _run_inputs(asset, context, config, settings)
        resolved, result = _run_step(context, config, settings, graph, loaded_with, **inputs)
        if result is None:
            return
        read = _source_read(context, asset.reads_source, result) if asset.reads_source else {}
        yield _materialize_result(
            context, checks, key, resolved, result, dagster_metadata(asset.describe(resolved, result)), read
        )

    # Dagster reads the config type from the annotation: each asset gets its own.
    materialize.__annotations__["config"] = config_type
    materialize.__name__ = key
    return dg.multi_asset(
        name=key,
        specs=[
            dg.AssetSpec(
                key,
                group_name=GROUP,
                deps=list(asset.deps),
                kinds=set(asset.kinds),
                code_version=asset.code_version(loaded_with),
                description=asset.description,
                skippable=True,
                freshness_policy=freshness if asset.overdue_after_freshness_hours else None,
            )
        ],
        check_specs=checks.specs[key],
        pool=POOL,
        can_subset=True,
    )(materialize)


def build_pipeline_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    """An asset for each registry entry, with code versions for the settings they were
    loaded with.

    An entry marked `overdue_after_freshness_hours` carries a FreshnessPolicy: the UI shows
    it overdue when it has not materialized for PORTFOLIO_ASSETS_FRESHNESS_HOURS (the daily
    update is late). Like the price lag check's threshold, that window changes no result,
    so no code version."""
    freshness = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=FRESHNESS_HOURS.read()))
    entries = registered_assets()
    checks = build_checks(entries)

    @functools.cache
    def pipeline_graph() -> AnyAssetGraph:
        return asset_graph_of([stooq_files, tradeable_instruments, *pipeline])

    pipeline = [_pipeline_asset(asset, settings, checks, pipeline_graph, freshness) for asset in entries]
    return pipeline
