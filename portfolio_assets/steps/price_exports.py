"""The price_exports step: one clean price CSV per matched ticker in the prices folder."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..domain.exports import PlannedExport, plan_exports
from ..domain.reports import read_match_report
from ..domain.settings import Settings, max_removed_share
from ..incremental.export_folder import existing_export_names
from ..incremental.export_sync import stray_exports, sync_exports
from ..incremental.file_summaries import load_file_summaries
from ..incremental.fingerprints import combine, text_fingerprint
from ..incremental.memo import StepMemo, can_reuse, file_stamp, output_stamp
from .common import StepResult, require_folder, require_output
from .registry import cache_version, step_code_version

__all__ = ["ExportResult", "build_price_exports", "export_strays"]


@dataclass(frozen=True)
class ExportResult(StepResult):
    exported: list[str]
    written: list[str]
    unchanged: list[str]  # re-rendered to the same bytes, file left alone
    untouched: list[str]  # fingerprint unchanged, not even read
    removed: list[str]
    stats: dict[str, float]
    warnings: list[str]
    strays: list[str] = field(default_factory=list)  # files in the prices folder the pipeline did not write
    adopted: list[str] = field(default_factory=list)  # files it did not write, taken over on request


def build_price_exports(
    settings: Settings, previous: StepMemo | None = None, force: bool = False, adopt_exports: bool = False
) -> ExportResult:
    """Bring the prices folder in line with the match report (`sync_exports`).

    `adopt_exports` takes over the files with an export's name that the pipeline did not
    write but that start with the export header line (earlier exports, the old tool's);
    without it such a file stops the step before anything is written."""
    started = time.perf_counter()
    require_output(settings.match_report_path, "match_report")
    planned = plan_exports(read_match_report(settings.match_report_path), settings.include_empty)
    prices_dir = settings.prices_dir
    # Only what the exports are made of counts: a report change elsewhere (currency
    # cells, unmatched rows) reuses every export. The data_status tells a source read now
    # from one that could not be read then (with include_empty, both are exported).
    fingerprint = combine(
        step_code_version("price_exports", settings),
        *(
            f"{item.file_name}:{item.stooq_path}:{item.data_status}:{file_stamp(settings.stooq_dir / item.stooq_path)}"
            for item in planned
        ),
    )
    outputs = [prices_dir / item.file_name for item in planned]
    exported = [item.file_name for item in planned]
    unplanned = existing_export_names(prices_dir) - set(exported)
    strays = export_strays(settings, planned) if unplanned else []
    # Adopting is asked for when the records are lost: reusing would leave them so.
    if can_reuse(previous, fingerprint, outputs, force or adopt_exports) and not unplanned - set(strays):
        stats = {"stooq_files_read": 0, "seconds": round(time.perf_counter() - started, 3)}
        return ExportResult(previous, True, exported, [], [], exported, [], stats, [], strays)
    require_folder(settings.stooq_dir, "stooq_dir", "Stooq")
    sync = sync_exports(
        settings.stooq_dir,
        prices_dir,
        planned,
        settings.export_manifest_path,
        settings.exports_written_path,
        cache_version("exports"),
        force=force,
        adopt=adopt_exports,
        max_removed_share=max_removed_share(),
        summaries=load_file_summaries(settings.diagnostics_cache_path, cache_version("diagnostics"))[0],
    )
    version = text_fingerprint(*(f"{name}:{sync.content_hashes[name]}" for name in exported))
    memo = StepMemo(fingerprint, output_stamp(outputs), version)
    stats = {
        "stooq_files_read": sync.files_read,
        "exports_appended": sync.files_appended,
        "stooq_bytes_read": sync.bytes_read,
        "seconds": round(time.perf_counter() - started, 3),
    }
    return ExportResult(
        memo,
        False,
        exported,
        sync.written,
        sync.unchanged,
        sync.untouched,
        sync.removed,
        stats,
        sync.warnings,
        sync.strays,
        sync.adopted,
    )


def export_strays(settings: Settings, planned: list[PlannedExport] | None = None) -> list[str]:
    """CSV files in the prices folder that the report does not call for and that the
    pipeline did not write: the user's own, reported and never removed."""
    if planned is None:
        if not settings.match_report_path.is_file():
            return []
        planned = plan_exports(read_match_report(settings.match_report_path), settings.include_empty)
    return stray_exports(
        settings.prices_dir,
        planned,
        settings.export_manifest_path,
        settings.exports_written_path,
        cache_version("exports"),
    )
