"""The Definitions of the code location, built for the current environment.

`portfolio_assets.definitions` builds them once when Dagster loads the code location,
from the environment; the CLI builds them here from its flags over the environment,
without importing that module (whose import would build them a second time).
"""

from __future__ import annotations

import dagster as dg

from ..instance.dagster_internals.library import CacheableAssetsDefinition
from ..settings import Settings, check_process_settings, settings_from_environment
from .assets import build_pipeline_assets
from .automation import stale_condition
from .executor import in_process_executor_freeing_dead_runs
from .resources import settings_resource
from .sensors import build_sensors
from .sources import stooq_files, tradeable_instruments

__all__ = ["build_definitions", "runnable"]


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    """Definitions for `settings` (by default the environment's); an invalid setting fails
    here, naming its variable."""
    settings = settings_from_environment() if settings is None else settings
    check_process_settings()
    condition = stale_condition()
    assets = [
        asset.map_asset_specs(lambda spec: spec.replace_attributes(automation_condition=condition))
        for asset in build_pipeline_assets(settings)
    ]
    return dg.Definitions(
        assets=[stooq_files, tradeable_instruments, *assets],
        sensors=build_sensors(),
        resources={"settings": settings_resource(settings)},
        executor=in_process_executor_freeing_dead_runs,
    )


def runnable(
    definitions: dg.Definitions,
) -> list[dg.AssetsDefinition | dg.AssetSpec | dg.SourceAsset | CacheableAssetsDefinition]:
    """Assets and any separate checks, as `dg.materialize` takes them (each asset's checks
    are declared on it and run in its step)."""
    return [*(definitions.assets or ()), *(definitions.asset_checks or ())]
