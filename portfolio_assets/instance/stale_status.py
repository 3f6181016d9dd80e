"""Which assets are fresh, stale or missing, and why, in words a user understands.

Staleness is Dagster's own (one hop: code version, dependency data versions), read
through the adapter (`dagster_internals.library.dagster_staleness`); this module turns its causes into words ("broker list
broker_b.csv changed", "setting include_empty changed from false to true") and adds what
Dagster cannot know: output files that are missing or were changed on disk, and matched
files that could not be read when match_report last ran (a read fails for the moment:
match_report stays stale until it has read them again).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from ..domain.errors import PortfolioInputError
from ..domain.stooq_tree import unpacked_folders
from ..incremental.archive_changes import describe_archive_changes
from ..incremental.export_folder import existing_export_names
from ..incremental.memo import output_stamp
from ..incremental.metadata_files import MetadataFiles
from ..settings import Settings
from ..steps.match_report import describe_not_read, files_not_read
from ..steps.price_exports import export_strays
from ..steps.registry import SOURCE_KEYS, cache_version, output_paths, result_settings
from ..steps.tradeable_universe import broker_list_hashes
from .dagster_internals.library import (
    CODE_VERSION_TAG,
    DATA_VERSION_TAG,
    AnyAssetGraph,
    DagsterStaleness,
    dagster_staleness,
)
from .memo_tags import OUTPUT_STAMP_TAG, SETTING_TAG_PREFIX

__all__ = [
    "SOURCE_KEYS",
    "AssetStatus",
    "archive_changes",
    "asset_statuses",
    "current_data_version",
    "describe_path",
    "latest_materialization_tags",
    "status_of",
]


@dataclass
class AssetStatus:
    key: str
    status: str  # fresh | stale | missing
    causes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # worth knowing, but nothing a run would change
    not_read: dict[str, str] = field(default_factory=dict)
    """Matched files its last materialization could not read (relative path: error name)."""

    @property
    def never_materialized(self) -> bool:
        """Missing because Dagster has no materialization of it (not for a missing file)."""
        return self.status == "missing" and self.causes == [_never_materialized(self.key)]

    @property
    def only_rereading(self) -> bool:
        """Stale only because files could not be read last time (see `not_read`)."""
        return bool(self.not_read) and len(self.causes) == 1

    def as_json(self) -> dict[str, Sequence[str]]:
        return {"key": self.key, "status": self.status, "causes": self.causes, "notes": self.notes}


def _never_materialized(key: str) -> str:
    return f"{key} was never materialized"


def describe_path(path: Path) -> str:
    """A path as the user typed it: relative to the working directory when inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def current_data_version(instance: dg.DagsterInstance, key: str) -> str | None:
    """What Dagster records as the input version of `key`: its latest materialization,
    else its latest observation."""
    asset_key = dg.AssetKey(key)
    if key not in SOURCE_KEYS:
        event = instance.get_latest_materialization_event(asset_key)
        if event is not None and event.asset_materialization is not None:
            return (event.asset_materialization.tags or {}).get(DATA_VERSION_TAG)
    records = instance.fetch_observations(asset_key, limit=1).records
    if records and records[0].asset_observation is not None:
        version = records[0].asset_observation.data_version
        return version if version is None else str(version)
    return None


def _changed_broker_lists(instance: dg.DagsterInstance, settings: Settings) -> list[str]:
    event = instance.get_latest_materialization_event(dg.AssetKey("tradeable_universe"))
    recorded: dict[str, str] = {}
    if event is not None and event.asset_materialization is not None:
        value = event.asset_materialization.metadata.get("broker_list_hashes")
        stored = value.value if value is not None else {}
        recorded = dict(json.loads(stored) if isinstance(stored, str) else stored)  # type: ignore[arg-type]
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
        try:
            archives = archive_changes(settings)
        except PortfolioInputError as error:  # a broken archive: refresh will say so too
            archives = [str(error)]
        except OSError as error:  # an archive replaced or removed while it was listed
            archives = [f"Stooq archives changed while they were listed ({error.strerror}): look again"]
        if archives and not unpacked_folders(settings.stooq_dir):
            return archives
        return [*archives, "Stooq files changed (added, removed or updated)"]
    return [f"upstream {parent} has new data"]


def status_of(
    key: str,
    staleness: DagsterStaleness,
    code_version: str | None,
    tags: Mapping[str, str],
    instance: dg.DagsterInstance,
    settings: Settings,
) -> AssetStatus:
    """The status of one asset: what Dagster says of it (`staleness`), in words, plus what
    Dagster cannot know (its output files missing or changed on disk)."""
    if staleness.status == "missing":
        return AssetStatus(key, "missing", [_never_materialized(key)])
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
    causes: list[str] = []
    for cause in staleness.causes:
        if cause.category == "code":
            causes += _code_causes(key, code_version, tags, settings)
        elif cause.category == "data" and cause.dependency is not None:
            causes += _input_cause(instance, cause.dependency, settings)
        else:
            causes.append(f"{key} {cause.reason}")
    if not causes and tags.get(OUTPUT_STAMP_TAG) not in (None, output_stamp(paths)):
        causes.append("its output files were changed on disk since they were written")
    # Reading them again may succeed (a permission restored, a share back): a run reads them.
    not_read = files_not_read(settings) if key == "match_report" else {}
    if not_read:
        causes.append(f"{describe_not_read(not_read)}: read again")
    return AssetStatus(key, "stale" if causes else "fresh", causes, _notes(key, settings, paths), not_read)


def latest_materialization_tags(instance: dg.DagsterInstance, keys: Sequence[str]) -> dict[str, Mapping[str, str]]:
    """The tags of each asset's latest materialization ({} when never materialized), in
    one query."""
    tags: dict[str, Mapping[str, str]] = {key: {} for key in keys}
    for record in instance.get_asset_records([dg.AssetKey(key) for key in keys]):
        event = record.asset_entry.last_materialization
        if event is not None and event.asset_materialization is not None:
            tags[record.asset_entry.asset_key.to_user_string()] = event.asset_materialization.tags or {}
    return tags


def _code_causes(key: str, code_version: str | None, tags: Mapping[str, str], settings: Settings) -> list[str]:
    """A new code version in words: the result settings that moved, else the step's code."""
    causes = []
    for name, value in result_settings(key, settings).items():
        recorded = tags.get(SETTING_TAG_PREFIX + name)
        if recorded is not None and recorded != value:
            causes.append(f"setting {name} changed from {recorded} to {value}")
    return causes or [f"code of {key} changed (version {tags.get(CODE_VERSION_TAG)} to {code_version})"]


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


def asset_statuses(
    defs_or_graph: dg.Definitions | AnyAssetGraph,
    instance: dg.DagsterInstance,
    settings: Settings,
    keys: Sequence[str],
    tags: Mapping[str, Mapping[str, str]] | None = None,
) -> list[AssetStatus]:
    """Status of each asset of `keys`, in order; `defs_or_graph` is the Definitions or a
    repository's asset graph (as a run or a sensor has it). `tags`: the latest
    materialization tags of `keys` when the caller has just read them
    (`latest_materialization_tags`), else they are read here."""
    graph = defs_or_graph.resolve_asset_graph() if isinstance(defs_or_graph, dg.Definitions) else defs_or_graph
    judged = dagster_staleness(instance, graph, keys)
    if tags is None:
        tags = latest_materialization_tags(instance, keys)
    return [
        status_of(key, judged[key], graph.get(dg.AssetKey(key)).code_version, tags[key], instance, settings)
        for key in keys
    ]


def archive_changes(settings: Settings) -> list[str]:
    """What changed in each archive of the Stooq folder since the outputs were made, in words."""
    return describe_archive_changes(
        settings.stooq_dir,
        settings.index_path,
        MetadataFiles(settings.metadata_dir).diagnostics_cache_path,
        cache_version("diagnostics"),
    )
