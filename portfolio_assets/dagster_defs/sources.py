"""Observable source assets for the raw inputs: the Stooq tree and the broker folder.

The same observation functions serve the source assets (observed in a run)
and `record_observations` (reported without a run, by the CLI and sensors).
"""

from __future__ import annotations

import time
import warnings

import dagster as dg

from ..domain.broker_lists import broker_list_paths
from ..domain.stooq_tree import StooqFile, scan_stooq_tree
from ..incremental.fingerprints import stooq_fingerprint, tradeable_fingerprint
from ..instance.dagster_internals.library import DATA_VERSION_TAG
from ..settings import Settings
from ..steps.common import require_folder
from .failures import failing_clearly
from .resources import PipelineSettings

__all__ = [
    "GROUP",
    "observe_stooq_files",
    "observe_tradeable_instruments",
    "observed_scan",
    "record_observations",
    "stooq_files",
    "tradeable_instruments",
]

GROUP = "portfolio"

# The last stat scan this process observed, by Stooq root: stooq_index builds from the
# very scan whose version it records as its input, when that is still the latest one.
_LAST_SCAN: dict[str, tuple[str, list[StooqFile]]] = {}


def observed_scan(settings: Settings, version: str | None) -> list[StooqFile] | None:
    """The scan this process took for `version` of the Stooq tree, if it has it."""
    cached = _LAST_SCAN.get(str(settings.stooq_dir))
    return cached[1] if cached is not None and version is not None and cached[0] == version else None


# observable_source_asset is marked beta in 1.13; users need not see that on every load.
warnings.filterwarnings("ignore", category=dg.BetaWarning, message=".*observable_source_asset.*")


def observe_stooq_files(settings: Settings, scan: list[StooqFile] | None = None) -> dg.ObserveResult:
    """The stat-only fingerprint of the Stooq tree (`scan`: one just taken, to reuse)."""
    started = time.perf_counter()
    with failing_clearly():
        require_folder(settings.stooq_dir, "stooq_dir", "Stooq")
        files = scan if scan is not None else scan_stooq_tree(settings.stooq_dir)
    version = stooq_fingerprint(files)
    _LAST_SCAN[str(settings.stooq_dir)] = (version, files)
    return dg.ObserveResult(
        data_version=dg.DataVersion(version),
        metadata={
            "path": dg.MetadataValue.path(str(settings.stooq_dir)),
            "file_count": len(files),
            "total_bytes": sum(item.size for item in files),
            "scan_seconds": round(time.perf_counter() - started, 3),
        },
    )


def observe_tradeable_instruments(settings: Settings) -> dg.ObserveResult:
    with failing_clearly():
        require_folder(settings.tradeable_dir, "tradeable_dir", "broker list")
    paths = broker_list_paths(settings.tradeable_dir)
    return dg.ObserveResult(
        data_version=dg.DataVersion(tradeable_fingerprint(settings.tradeable_dir)),
        metadata={
            "path": dg.MetadataValue.path(str(settings.tradeable_dir)),
            "list_count": len(paths),
            "lists": ", ".join(path.name for path in paths),
        },
    )


@dg.observable_source_asset(
    group_name=GROUP,
    description="The Stooq daily archives: unpacked (*.txt) or as downloaded (*.zip). Version: relative "
    "path, size, mtime, ctime and inode of every file and archive, from a stat-only scan.",
)
def stooq_files(settings: PipelineSettings) -> dg.ObserveResult:
    return observe_stooq_files(settings.resolve())


@dg.observable_source_asset(
    group_name=GROUP,
    description="The broker instrument lists (*.csv). Version: names and bytes of every list, "
    "so touching or re-saving a file unchanged is no change.",
)
def tradeable_instruments(settings: PipelineSettings) -> dg.ObserveResult:
    return observe_tradeable_instruments(settings.resolve())


def _latest_observed_version(instance: dg.DagsterInstance, key: dg.AssetKey) -> str | None:
    records = instance.fetch_observations(key, limit=1).records
    if records and records[0].asset_observation is not None:
        return records[0].asset_observation.data_version
    return None


def record_observations(
    instance: dg.DagsterInstance, settings: Settings, stooq_scan: list[StooqFile] | None = None
) -> dict[str, str]:
    """Observe both sources without a run and return their data versions; an observation
    is recorded only when its version differs from the last one."""
    versions = {}
    for key, result in (
        ("stooq_files", observe_stooq_files(settings, stooq_scan)),
        ("tradeable_instruments", observe_tradeable_instruments(settings)),
    ):
        asset_key = dg.AssetKey(key)
        assert result.data_version is not None  # both observations always set one
        versions[key] = result.data_version.value
        if versions[key] != _latest_observed_version(instance, asset_key):
            instance.report_runless_asset_event(
                dg.AssetObservation(
                    asset_key=asset_key,
                    metadata=result.metadata,
                    tags={DATA_VERSION_TAG: versions[key]},
                )
            )
    return versions
