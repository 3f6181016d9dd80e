"""The Definitions of the code location, built for the current environment.

`portfolio_assets.definitions` builds them once when Dagster loads the code location;
the CLI builds them here after applying its flags, without importing that module (whose
import would build them a second time).
"""

from __future__ import annotations

import dagster as dg

from ..domain.settings import max_removed_share, refresh_log_level, settings_from_environment, worker_setting
from ..instance.dagster_internals.library import CacheableAssetsDefinition
from .assets import build_pipeline_assets
from .automation import stale_condition
from .executor import in_process_executor_freeing_dead_runs
from .resources import settings_resource_from_environment
from .sensors import build_sensors
from .sources import stooq_files, tradeable_instruments

__all__ = ["build_definitions", "runnable"]


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
        sensors=build_sensors(),
        resources={"settings": settings_resource_from_environment()},
        executor=in_process_executor_freeing_dead_runs,
    )


def runnable(
    definitions: dg.Definitions,
) -> list[dg.AssetsDefinition | dg.AssetSpec | dg.SourceAsset | CacheableAssetsDefinition]:
    """Assets and any separate checks, as `dg.materialize` takes them (each asset's checks
    are declared on it and run in its step)."""
    return [*(definitions.assets or ()), *(definitions.asset_checks or ())]
