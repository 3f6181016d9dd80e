"""Observable source assets for the raw inputs: the Stooq tree and the broker folder."""

from __future__ import annotations

import time

import dagster as dg

from .core.fingerprints import stooq_fingerprint, tradeable_fingerprint
from .core.broker_lists import broker_list_paths
from .core.pipeline import require_folder
from .core.stooq_tree import scan_stooq_tree
from .failures import failing_clearly
from .resources import PipelineSettings

__all__ = ["stooq_files", "tradeable_instruments", "GROUP"]

GROUP = "portfolio"


@dg.observable_source_asset(
    group_name=GROUP,
    description="The unpacked Stooq daily archives (*.txt). Version: relative path, size and "
    "mtime of every file, from a stat-only scan.",
)
def stooq_files(settings: PipelineSettings) -> dg.ObserveResult:
    resolved = settings.resolve()
    with failing_clearly():
        require_folder(resolved.stooq_dir, "stooq_dir", "Stooq")
    started = time.perf_counter()
    files = scan_stooq_tree(resolved.stooq_dir)
    return dg.ObserveResult(
        data_version=dg.DataVersion(stooq_fingerprint(files)),
        metadata={
            "path": dg.MetadataValue.path(str(resolved.stooq_dir)),
            "file_count": len(files),
            "total_bytes": sum(item.size for item in files),
            "scan_seconds": round(time.perf_counter() - started, 3),
        },
    )


@dg.observable_source_asset(
    group_name=GROUP,
    description="The broker instrument lists (*.csv). Version: names and bytes of every list, "
    "so touching or re-saving a file unchanged is no change.",
)
def tradeable_instruments(settings: PipelineSettings) -> dg.ObserveResult:
    resolved = settings.resolve()
    with failing_clearly():
        require_folder(resolved.tradeable_dir, "tradeable_dir", "broker list")
    paths = broker_list_paths(resolved.tradeable_dir)
    return dg.ObserveResult(
        data_version=dg.DataVersion(tradeable_fingerprint(resolved.tradeable_dir)),
        metadata={
            "path": dg.MetadataValue.path(str(resolved.tradeable_dir)),
            "list_count": len(paths),
            "lists": ", ".join(path.name for path in paths),
        },
    )
