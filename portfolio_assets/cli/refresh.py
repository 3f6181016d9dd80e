"""Observe the sources (without a run), then materialize exactly what is stale or missing.

Staleness is one hop in Dagster 1.13: after an asset re-materializes, only its
direct dependents can turn stale. So one run takes the stale assets and all
that follows them, and each later asset checks its inputs when its turn comes:
one downstream of an asset that recomputed the same data version does not
materialize, and Dagster skips what follows it. If inputs move meanwhile, the
refresh observes again and takes another round.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from ..dagster_defs.assets import DUE_TAG, POOL, SKIP_FRESH_TAG
from ..dagster_defs.failures import failure_lines, materialize_with_one_line_log
from ..dagster_defs.location import runnable
from ..dagster_defs.metadata import change_counts_from_metadata
from ..dagster_defs.sources import record_observations
from ..domain.changes import ChangeCounts, total_counts
from ..domain.stooq_tree import StooqFile
from ..incremental.metadata_files import MetadataFiles
from ..instance.memo_tags import OUTPUT_STAMP_TAG
from ..instance.runs import (
    ASSETS_TAG,
    DEAD_RUN_CLEARED,
    ORPHANED_SLOT_FREED,
    clear_dead_runs,
    ensure_pool_limit,
    free_orphaned_slots,
    in_flight_assets,
    process_tags,
    slot_holders_elsewhere,
)
from ..instance.stale_status import (
    SOURCE_KEYS,
    AssetStatus,
    asset_statuses,
    current_data_version,
    latest_materialization_tags,
)
from ..io.atomic_files import remove_leftover_temp_files
from ..settings import LOG_LEVEL, Settings
from ..steps.registry import asset_keys, registered_assets
from .fast_path import instance_marker, observed_state, record_fresh_state

__all__ = ["RefreshOutcome", "clear_dead_runs_and_slots", "fresh_checked_statuses", "refresh"]


MAX_ROUNDS = 5


@dataclass
class RefreshOutcome:
    success: bool
    materialized: list[str] = field(default_factory=list)
    runs: int = 0
    error: str = ""
    changes: list[ChangeCounts] = field(default_factory=list)
    """What each materialization of match_report changed, in order."""

    def changes_line(self) -> str:
        """The line `refresh` ends with: what changed in the universe."""
        if not self.changes:
            return "changes: none recorded (match_report was not materialized)"
        return f"changes: {total_counts(self.changes).summary()}"

    def count_changes(self, result: dg.ExecuteInJobResult) -> None:
        """Add the change counts of the run's materialization of match_report, if it made one."""
        for event in result.get_asset_materialization_events():
            if event.asset_key == dg.AssetKey("match_report"):
                counts = change_counts_from_metadata(event.materialization.metadata)
                self.changes += [counts] if counts else []


def _run(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    selection: list[str],
    force: bool = False,
    due: Sequence[str] = (),
    adopt_exports: bool = False,
) -> dg.ExecuteInJobResult:
    """One run of `selection`; `due` are the assets just judged stale or missing, which the
    run does not judge again (the others re-check their inputs when their turn comes)."""
    run_config: dict[str, Any] = {}
    ops: dict[str, dict[str, dict[str, bool]]] = {}
    known = asset_keys()
    assets = [key for key in selection if key in known]  # the selection's assets, sources left out
    if force:
        ops = {key: {"config": {"force": True}} for key in assets}
    if adopt_exports:
        for asset in registered_assets():
            if "adopt_exports" in asset.run_inputs and asset.key in selection:
                ops.setdefault(asset.key, {"config": {}})["config"]["adopt_exports"] = True
    if ops:
        run_config["ops"] = ops
    # The shell shows the run's log one line per record and, at the end, our one-line
    # summary of any failure; the full log (stacks included) stays in the instance and the UI.
    run_config["loggers"] = {"console": {"config": {"log_level": LOG_LEVEL.read()}}}
    tags = {
        "portfolio_assets/trigger": "refresh",
        ASSETS_TAG: ",".join(assets),
        **process_tags(),
    }
    if not force:
        tags[SKIP_FRESH_TAG] = "true"
        tags[DUE_TAG] = ",".join(key for key in selection if key in due)
    return materialize_with_one_line_log(
        runnable(defs),
        resources=defs.resources,
        instance=instance,
        selection=selection,
        run_config=run_config,
        raise_on_error=False,
        tags=tags,
    )


def _with_descendants(defs: dg.Definitions, keys: list[str]) -> list[str]:
    """`keys` and every asset after them, in the registry's run order (each asset after those it depends on)."""
    graph = defs.resolve_asset_graph()
    chosen = set(keys)
    for key in asset_keys():
        if any(parent.to_user_string() in chosen for parent in graph.get(dg.AssetKey(key)).parent_keys):
            chosen.add(key)
    return [key for key in asset_keys() if key in chosen]


def _judged_for_the_run(defs: dg.Definitions, due: list[AssetStatus], selection: list[str]) -> list[str]:
    """The due assets whose judgement nothing earlier in the run can change: those with no
    parent in `selection`, and those never materialized (no upstream run gives them a
    materialization). Any other one is judged again when its turn comes: an upstream that
    rematerializes (a damaged report rebuilt, say) may leave it fresh after all."""
    graph = defs.resolve_asset_graph()
    chosen = set(selection)
    return [
        status.key
        for status in due
        if status.never_materialized
        or not any(parent.to_user_string() in chosen for parent in graph.get(dg.AssetKey(status.key)).parent_keys)
    ]


def _failure(result: dg.ExecuteInJobResult) -> str:
    """One line per failed step: our own message, not Dagster's "Error occurred while executing op"."""
    return "\n".join(failure_lines(result.all_events)) or "the run failed"


def fresh_checked_statuses(defs: dg.Definitions, instance: dg.DagsterInstance, settings: Settings) -> list[AssetStatus]:
    """Asset statuses; when all are fresh, record that for the Dagster-free fast check.

    The record holds exactly what the statuses compared against: the sources'
    latest observed versions (which an asset may have moved while it ran, by
    recording what it read) and the output stamps the last materializations wrote
    in their tags (which the statuses compared with the files). It is kept only if
    no event was written while judging, so it never describes anything newer.
    """
    home = Path(instance.root_directory)
    marker = instance_marker(home)
    sources = {key: current_data_version(instance, key) for key in SOURCE_KEYS}
    # Read once: the statuses compare the files with these tags' stamps, and the record keeps them.
    keys = asset_keys()
    tags = latest_materialization_tags(instance, keys)
    statuses = asset_statuses(defs, instance, settings, keys, tags)
    if marker and all(s.status == "fresh" for s in statuses) and None not in sources.values():
        stamps = {key: tags[key].get(OUTPUT_STAMP_TAG) for key in keys}
        if None not in stamps.values() and instance_marker(home) == marker:
            notes = {s.key: s.notes for s in statuses if s.notes}
            # The checks above leave no None among the values.
            known_sources = {key: value for key, value in sources.items() if value is not None}
            known_stamps = {key: value for key, value in stamps.items() if value is not None}
            record_fresh_state(home, marker, observed_state(settings, known_sources, output_stamps=known_stamps), notes)
    return statuses


def clear_dead_runs_and_slots(instance: dg.DagsterInstance, report: Callable[[str], None]) -> None:
    """Mark failed the in-flight runs whose process is provably gone (killed, or ended
    without recording its end, as when the database stopped) and free their pool slots,
    then free slots that ended runs still hold; one line each. `status` does this first,
    as `refresh` does: such a run would otherwise hold the pool for ever and keep the
    fast "nothing changed" answer from being given."""
    for run_id in clear_dead_runs(instance):
        report(DEAD_RUN_CLEARED.format(run_id=run_id))
    for run_id in free_orphaned_slots(instance, POOL):
        report(ORPHANED_SLOT_FREED.format(run_id=run_id))


OTHER_HOSTS_POLL_SECONDS = 5.0


def _wait_for_other_hosts(instance: dg.DagsterInstance, report: Callable[[str], None]) -> None:
    """On a shared instance, wait while a run of another host holds the pool; one that
    died is failed (and its slot freed) as soon as its heartbeat is stale."""
    announced: set[str] = set()
    while holders := slot_holders_elsewhere(instance, POOL):
        for run_id, why in holders.items():
            if run_id not in announced:
                report(f"waiting for run {run_id} of {why}")
                announced.add(run_id)
        time.sleep(OTHER_HOSTS_POLL_SECONDS)
        for run_id in clear_dead_runs(instance):
            report(f"run {run_id} stopped beating: marked failed, pool slot freed")
        free_orphaned_slots(instance, POOL)


def refresh(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    settings: Settings,
    force: bool = False,
    report: Callable[[str], None] = print,
    stooq_scan: list[StooqFile] | None = None,
    adopt_exports: bool = False,
) -> RefreshOutcome:
    """Materialize exactly the stale and missing assets (all of them with `force`).
    `adopt_exports`: price_exports takes over the files with an export's name that start
    with the export header line (see `sync_exports`)."""
    for run_id in clear_dead_runs(instance):
        report(DEAD_RUN_CLEARED.format(run_id=run_id))
    if not in_flight_assets(instance):
        # No live run can be writing now: temporary files are leftovers of killed ones.
        for folder in (
            settings.metadata_dir,
            MetadataFiles(settings.metadata_dir).change_history_dir,
            settings.prices_dir,
            Path(instance.root_directory),
        ):
            remove_leftover_temp_files(folder, older_than_seconds=60)
    ensure_pool_limit(instance, POOL)
    for run_id in free_orphaned_slots(instance, POOL):
        report(ORPHANED_SLOT_FREED.format(run_id=run_id))
    _wait_for_other_hosts(instance, report)
    record_observations(instance, settings, stooq_scan)
    outcome = RefreshOutcome(True)
    reobserved = False
    if force:
        report("materializing every asset (--force)")
        result = _run(defs, instance, list(asset_keys()), force=True, adopt_exports=adopt_exports)
        outcome.count_changes(result)
        outcome.runs += 1
        outcome.materialized = list(asset_keys())
        outcome.success = result.success
        outcome.error = "" if result.success else _failure(result)
        return outcome
    while True:
        statuses = fresh_checked_statuses(defs, instance, settings)
        # Files that could not be read are read once per refresh: a file that still cannot
        # be read leaves match_report stale for the next one, not this one in a loop.
        unreadable = [s for s in statuses if s.only_rereading and s.key in outcome.materialized]
        due = [s for s in statuses if s.status != "fresh" and s not in unreadable]
        if not due:
            break
        if outcome.runs >= MAX_ROUNDS:
            # Inputs kept changing under us (or something is wrong): stop rather than loop.
            outcome.success = False
            outcome.error = f"{', '.join(s.key for s in due)} still stale after {outcome.runs} runs: {due[0].causes}"
            return outcome
        if any(s.key in outcome.materialized for s in due) and not reobserved:
            # An input moved while we ran (a sensor observed it, a list was saved): observe
            # again and judge anew before choosing what to run.
            record_observations(instance, settings)
            reobserved = True
            continue
        reobserved = False
        for status in due:
            report(f"materializing {status.key} ({status.status}): {'; '.join(status.causes)}")
        # One run takes the stale assets and everything after them; each later asset
        # checks its inputs when its turn comes and, if they did not change after all,
        # is not materialized (and Dagster skips what follows it).
        selection = _with_descendants(defs, [s.key for s in due])
        result = _run(
            defs, instance, selection, due=_judged_for_the_run(defs, due, selection), adopt_exports=adopt_exports
        )
        outcome.count_changes(result)
        outcome.runs += 1
        done = {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}
        due_keys = {s.key for s in due}
        for key in selection:
            if key in done and key not in due_keys:
                report(f"materialized {key}: its inputs changed in this run")
        outcome.materialized += [key for key in selection if key in done]
        if not result.success:
            outcome.success = False
            outcome.error = _failure(result)
            return outcome
    for status in unreadable:
        report(
            f"{status.key}: {len(status.not_read)} matched file(s) still could not be read "
            f"({', '.join(sorted(set(status.not_read.values())))}); the next refresh reads them again"
        )
    if not outcome.materialized:
        report("nothing is stale: no run launched")
    return outcome
