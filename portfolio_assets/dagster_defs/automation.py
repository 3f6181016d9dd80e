"""What Dagster materializes on its own: one automation condition for every asset, and
the automation condition sensor that evaluates it.

An asset is requested when it is missing, its code version changed (a setting that
changes results is part of it), a dependency's *data version* changed (not a mere
re-materialization with the same content), or its `outputs_intact` check newly
failed (an output file deleted or changed on disk, reported by
`output_files_sensor`); never while it or a dependency is in progress. A
dependency requested in the same tick pulls its dependents into the same run, so
a change walks down the chain in one run instead of one run per tick (staleness
is one hop in Dagster 1.13); those runs are tagged so that each later asset
checks its inputs when its turn comes and, if they did not change after all, does
not materialize (Dagster then skips what follows it). The UI's automation page
shows which branch requested each run.

Failed runs are retried by the instance (`run_retries` in dagster.yaml, enabled by
the `dagster/max_retries` tag these runs carry), not by the condition.
"""

from __future__ import annotations

import dagster as dg

from ..instance.dagster_internals.library import MAX_RETRIES_TAG
from .assets import SKIP_FRESH_TAG

__all__ = ["AUTOMATION_RUN_TAGS", "build_automation_sensor", "stale_condition"]

# Retries of a failed automation run (a folder briefly unmounted, a file mid-write).
RETRIES = 2
AUTOMATION_RUN_TAGS = {
    "portfolio_assets/trigger": "automation",
    SKIP_FRESH_TAG: "true",
    MAX_RETRIES_TAG: str(RETRIES),
}


def stale_condition() -> dg.AutomationCondition[dg.AssetKey | dg.AssetCheckKey]:
    """Stale or missing, as this project means it; see the module docstring."""
    condition = dg.AutomationCondition
    became_stale = (
        # Missing is a state, evaluated every tick: once a first run failed, wait for a
        # change (or the instance's retries) instead of launching a failing run every tick.
        (condition.missing() & ~condition.execution_failed())
        | condition.code_version_changed()
        | condition.any_deps_match(condition.data_version_changed() | condition.will_be_requested())
        # Only blocking checks: outputs_intact (and the index gate). A failed warning check
        # must not rebuild anything; `newly_true` rebuilds once per failure, never in a loop.
        | condition.any_checks_match(condition.check_failed().newly_true(), blocking_only=True)
    )
    return (
        # Dagster types since_last_handled's self as AutomationCondition[AssetKey | AssetCheckKey],
        # which its invariant type parameter refuses for an asset condition; it accepts both at runtime.
        became_stale.since_last_handled()  # type: ignore[misc]
        & ~condition.any_deps_missing()
        & ~condition.any_deps_in_progress()
        & ~condition.in_progress()
    ).with_label("stale or missing")


def build_automation_sensor(
    asset_keys: tuple[str, ...], interval_seconds: int
) -> dg.AutomationConditionSensorDefinition:
    return dg.AutomationConditionSensorDefinition(
        "portfolio_assets_automation",
        target=dg.AssetSelection.assets(*asset_keys),
        run_tags=AUTOMATION_RUN_TAGS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=interval_seconds,
        description="Materializes exactly the stale and missing assets (see each asset's automation condition).",
    )
