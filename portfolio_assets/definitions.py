"""The code location: sources, assets, checks, sensors, resources and the in-process executor."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg

from .dagster_defs.assets import build_pipeline_assets
from .dagster_defs.automation import stale_condition
from .dagster_defs.checks import build_checks
from .dagster_defs.output_checks import build_output_checks
from .dagster_defs.resources import settings_resource_from_environment
from .dagster_defs.sensors import build_sensors
from .dagster_defs.sources import stooq_files, tradeable_instruments
from .domain.settings import max_removed_share, refresh_log_level, settings_from_environment, worker_setting

if TYPE_CHECKING:
    # What dg.Definitions holds besides the public kinds; dagster does not export it.
    from dagster._core.definitions.assets.definition.cacheable_assets_definition import CacheableAssetsDefinition

__all__ = ["build_definitions", "defs", "runnable"]


def build_definitions() -> dg.Definitions:
    """Definitions for the current environment; an invalid setting fails here, naming it."""
    settings = settings_from_environment()
    for validate in (refresh_log_level, worker_setting, max_removed_share):
        validate()  # a bad value fails when the definitions load, naming its variable
    condition = stale_condition()
    assets = [
        asset.map_asset_specs(lambda spec: spec.replace_attributes(automation_condition=condition))
        for asset in build_pipeline_assets(settings)
    ]
    return dg.Definitions(
        assets=[stooq_files, tradeable_instruments, *assets],
        asset_checks=[*build_checks(), *build_output_checks()],
        sensors=build_sensors(),
        resources={"settings": settings_resource_from_environment()},
        executor=dg.in_process_executor,
    )


def runnable(
    definitions: dg.Definitions,
) -> list[dg.AssetsDefinition | dg.AssetSpec | dg.SourceAsset | CacheableAssetsDefinition]:
    """Assets and checks, as `dg.materialize` takes them, so a run also runs the checks."""
    return [*(definitions.assets or ()), *(definitions.asset_checks or ())]


defs = build_definitions()
