"""The price_exports step: one clean price CSV per matched ticker in the prices folder."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

from ..domain.exports import PlannedExport, plan_exports
from ..domain.reports import read_match_report
from ..incremental.consistency import export_coverage
from ..incremental.export_folder import existing_export_names
from ..incremental.export_sync import stray_exports, sync_exports
from ..incremental.file_summaries import load_file_summaries
from ..incremental.fingerprints import combine, text_fingerprint
from ..incremental.memo import StepMemo, can_reuse, output_stamp
from ..incremental.metadata_files import MetadataFiles
from ..incremental.stooq_sources import StooqSources
from ..settings import MAX_REMOVED_SHARE, Settings
from .asset_checks import CheckOutcome, CheckReading
from .asset_metadata import FilePath, Listing, MetadataItem
from .common import StepResult, require_folder, require_output
from .registry import cache_version, step_code_version

__all__ = ["ExportResult", "build_price_exports", "export_strays", "exports_match_the_report", "metadata"]


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
    prices_dir: str = ""

    def input_warnings(self) -> list[str]:
        return self.warnings

    def log_lines(self) -> list[tuple[Literal["info", "warning"], str]]:
        lines: list[tuple[Literal["info", "warning"], str]] = []
        if self.strays:
            lines.append(
                (
                    "warning",
                    f"{len(self.strays)} CSV file(s) in {self.prices_dir} were not written by the pipeline "
                    f"and are left alone: {', '.join(self.strays[:10])}",
                )
            )
        return lines


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
    files = MetadataFiles(settings.metadata_dir)
    # Only what the exports are made of counts: a report change elsewhere (currency
    # cells, unmatched rows) reuses every export. The data_status tells a source read now
    # from one that could not be read then (with include_empty, both are exported).
    sources = StooqSources(settings.stooq_dir)
    fingerprint = combine(
        step_code_version("price_exports", settings),
        *(
            f"{item.file_name}:{item.stooq_path}:{item.data_status}:{sources.stamp(item.stooq_path)}"
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
        return ExportResult(
            previous, True, exported, [], [], exported, [], stats, [], strays, prices_dir=str(prices_dir)
        )
    require_folder(settings.stooq_dir, "stooq_dir", "Stooq")
    sync = sync_exports(
        settings.stooq_dir,
        prices_dir,
        planned,
        files.export_manifest_path,
        files.exports_written_path,
        cache_version("exports"),
        force=force,
        adopt=adopt_exports,
        max_removed_share=MAX_REMOVED_SHARE.read(),
        summaries=load_file_summaries(files.diagnostics_cache_path, cache_version("diagnostics"))[0],
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
        str(prices_dir),
    )


def export_strays(settings: Settings, planned: list[PlannedExport] | None = None) -> list[str]:
    """CSV files in the prices folder that the report does not call for and that the
    pipeline did not write: the user's own, reported and never removed."""
    if planned is None:
        if not settings.match_report_path.is_file():
            return []
        planned = plan_exports(read_match_report(settings.match_report_path), settings.include_empty)
    files = MetadataFiles(settings.metadata_dir)
    return stray_exports(
        settings.prices_dir,
        planned,
        files.export_manifest_path,
        files.exports_written_path,
        cache_version("exports"),
    )


def metadata(settings: Settings, result: ExportResult) -> dict[str, MetadataItem]:
    return {
        "path": FilePath(settings.prices_dir),
        "files_not_written_by_the_pipeline": Listing(result.strays, limit=50, more=False),
        "export_count": len(result.exported),
        "exports_written": len(result.written),
        "exports_untouched": len(result.untouched) + len(result.unchanged),
        "exports_removed": len(result.removed),
        "exports_adopted": len(result.adopted),
        **result.stats,
        "preview": Listing(result.exported, empty="(no exports)", more=False),
    }


def exports_match_the_report(reading: CheckReading) -> CheckOutcome:
    settings = reading.settings
    coverage = export_coverage(settings.match_report_path, settings.prices_dir, settings.include_empty)
    strays = set(export_strays(settings)) if coverage.unexpected else set()
    unexpected = [name for name in coverage.unexpected if name not in strays]
    own_problems = bool(coverage.missing or unexpected)
    return CheckOutcome(
        coverage.passed,
        {
            "expected_exports": coverage.expected,
            "present_exports": coverage.present,
            "missing": Listing(coverage.missing),
            "unexpected": Listing(unexpected),
            "not_written_by_the_pipeline": Listing(sorted(strays)),
        },
        severity="error" if own_problems else "warn",
    )
