"""Which assets are fresh, stale or missing, and why, from public instance records.

Dagster 1.13 has no public stale-status API, so this adapter compares, as its resolver
does (one hop), each asset's last materialization tags with the current code
version and the current data version of each dependency, and adds what Dagster
cannot know: output files that are missing or were changed on disk.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from ..domain.settings import Settings
from ..incremental.export_folder import existing_export_names
from ..incremental.memo import output_stamp
from ..steps.price_exports import export_strays
from ..steps.registry import output_paths, result_settings
from ..steps.tradeable_universe import broker_list_hashes
from .memo_tags import OUTPUT_STAMP_TAG, SETTING_TAG_PREFIX

__all__ = [
    "SOURCE_KEYS",
    "AssetStatus",
    "asset_statuses",
    "current_data_version",
    "describe_path",
    "inputs_changed",
    "recorded_output_stamps",
    "status_of",
]

SOURCE_KEYS = ("stooq_files", "tradeable_instruments")


@dataclass
class AssetStatus:
    key: str
    status: str  # fresh | stale | missing
    causes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # worth knowing, but nothing a run would change

    def as_json(self) -> dict:
        return {"key": self.key, "status": self.status, "causes": self.causes, "notes": self.notes}


def describe_path(path: Path) -> str:
    """A path as the user typed it: relative to the working directory when inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def current_data_version(
    instance: dg.DagsterInstance, key: str, overrides: Mapping[str, str] | None = None
) -> str | None:
    """What Dagster records as the input version of `key`: its latest materialization,
    else its latest observation; `overrides` gives versions observed but not yet recorded."""
    if overrides and key in overrides:
        return overrides[key]
    asset_key = dg.AssetKey(key)
    if key not in SOURCE_KEYS:
        event = instance.get_latest_materialization_event(asset_key)
        if event is not None and event.asset_materialization is not None:
            return (event.asset_materialization.tags or {}).get("dagster/data_version")
    records = instance.fetch_observations(asset_key, limit=1).records
    if records and records[0].asset_observation is not None:
        version = records[0].asset_observation.data_version
        return version if version is None else str(version)
    return None


def _changed_broker_lists(instance: dg.DagsterInstance, settings: Settings) -> list[str]:
    event = instance.get_latest_materialization_event(dg.AssetKey("tradeable_universe"))
    recorded = {}
    if event is not None and event.asset_materialization is not None:
        value = event.asset_materialization.metadata.get("broker_list_hashes")
        recorded = value.value if value is not None else {}
        recorded = json.loads(recorded) if isinstance(recorded, str) else dict(recorded)
    current = broker_list_hashes(settings.tradeable_dir) if settings.tradeable_dir.is_dir() else {}
    causes = [f"broker list {name} added" for name in sorted(set(current) - set(recorded))]
    causes += [f"broker list {name} removed" for name in sorted(set(recorded) - set(current))]
    causes += [
        f"broker list {name} changed"
        for name in sorted(set(current) & set(recorded))
        if current[name] != recorded[name]
    ]
    return causes or ["broker lists changed"]


def _input_cause(instance: dg.DagsterInstance, parent: str, settings: Settings) -> list[str]:
    if parent == "tradeable_instruments":
        return _changed_broker_lists(instance, settings)
    if parent == "stooq_files":
        return ["Stooq files changed (added, removed or updated)"]
    return [f"upstream {parent} has new data"]


def status_of(
    key: str,
    code_version: str | None,
    parents: list[str],
    instance: dg.DagsterInstance,
    settings: Settings,
    overrides: Mapping[str, str] | None = None,
) -> AssetStatus:
    """The status of one asset given its current code version and its parents' keys."""
    event = instance.get_latest_materialization_event(dg.AssetKey(key))
    if event is None or event.asset_materialization is None:
        return AssetStatus(key, "missing", [f"{key} was never materialized"])
    try:
        paths = output_paths(key, settings)
    except ValueError as error:  # the report it is planned from is damaged
        return AssetStatus(key, "stale", [str(error)])
    missing = [path for path in paths if not path.is_file()]
    if missing:
        shown = [f"{describe_path(path)} is missing" for path in missing[:5]]
        if len(missing) > 5:
            shown.append(f"... and {len(missing) - 5} more files are missing")
        return AssetStatus(key, "missing", shown)
    tags = event.asset_materialization.tags or {}
    causes: list[str] = []
    if tags.get("dagster/code_version") != code_version:
        for name, value in result_settings(key, settings).items():
            recorded = tags.get(SETTING_TAG_PREFIX + name)
            if recorded is not None and recorded != value:
                causes.append(f"setting {name} changed from {recorded} to {value}")
        if not causes:
            causes.append(f"code of {key} changed (version {tags.get('dagster/code_version')} to {code_version})")
    for parent in sorted(parents):
        recorded = tags.get(f"dagster/input_data_version/{parent}")
        if recorded != current_data_version(instance, parent, overrides):
            causes += _input_cause(instance, parent, settings)
    if not causes and tags.get(OUTPUT_STAMP_TAG) not in (None, output_stamp(paths)):
        causes.append("its output files were changed on disk since they were written")
    return AssetStatus(key, "stale" if causes else "fresh", causes, _notes(key, settings, paths))


def _notes(key: str, settings: Settings, paths: list[Path]) -> list[str]:
    # Only a folder holding more than the planned exports can hold strays: the common
    # case costs one directory listing.
    if key != "price_exports" or not existing_export_names(settings.prices_dir) - {path.name for path in paths}:
        return []
    try:
        strays = export_strays(settings)
    except (OSError, ValueError):
        return []  # a damaged report is already a cause of its own
    if not strays:
        return []
    shown = ", ".join(strays[:5]) + (f" and {len(strays) - 5} more" if len(strays) > 5 else "")
    return [
        f"{len(strays)} file(s) in {describe_path(settings.prices_dir)} were not written by the pipeline "
        f"and are left alone: {shown}"
    ]


def inputs_changed(key: str, code_version: str | None, parents: list[str], instance: dg.DagsterInstance) -> bool:
    """The cheap half of `status_of`: did the code version or an input version move since
    the last materialization? (Outputs on disk are not looked at.)"""
    event = instance.get_latest_materialization_event(dg.AssetKey(key))
    if event is None or event.asset_materialization is None:
        return True
    tags = event.asset_materialization.tags or {}
    if tags.get("dagster/code_version") != code_version:
        return True
    return any(
        tags.get(f"dagster/input_data_version/{parent}") != current_data_version(instance, parent) for parent in parents
    )


def recorded_output_stamps(instance: dg.DagsterInstance, keys: tuple[str, ...]) -> dict[str, str | None]:
    """The output stamp each asset's latest materialization recorded."""
    stamps: dict[str, str | None] = {}
    for key in keys:
        event = instance.get_latest_materialization_event(dg.AssetKey(key))
        tags = (event.asset_materialization.tags or {}) if event and event.asset_materialization else {}
        stamps[key] = tags.get(OUTPUT_STAMP_TAG)
    return stamps


def asset_statuses(
    defs_or_graph,
    instance: dg.DagsterInstance,
    settings: Settings,
    keys: tuple[str, ...],
    overrides: Mapping[str, str] | None = None,
) -> list[AssetStatus]:
    """Status of each asset of `keys`, in order; `defs_or_graph` is the Definitions or a
    repository's asset graph (as a sensor has it)."""
    graph = defs_or_graph.resolve_asset_graph() if isinstance(defs_or_graph, dg.Definitions) else defs_or_graph
    statuses = []
    for key in keys:
        node = graph.get(dg.AssetKey(key))
        parents = [parent.to_user_string() for parent in node.parent_keys]
        statuses.append(status_of(key, node.code_version, parents, instance, settings, overrides))
    return statuses
