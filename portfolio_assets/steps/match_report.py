"""The match_report step: each instrument matched to a Stooq file with diagnostics and
currency (tradeable_matches.csv), or why not (tradeable_unmatched.csv), and what changed
since the previous reports (`match_changes.py`).

The reports are made broker list by broker list, at the cost of what changed
(`match_report_parts.py`): a list whose rows and matched files did not change is
copied, the new rows of a list that grew are the only ones matched and made.

A matched file that could not be read (`error:PermissionError`, ...) owes its outcome to
the moment, not to its bytes: the report that says so is never reused, and
`files_not_read` tells the status and the sensors which files to read again."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from ..domain.changes import CHANGE_KINDS, ChangeSet
from ..domain.diagnostics import MISSING_FILE, Diagnostics, read_failure
from ..domain.errors import InputVanished
from ..domain.price_lag import PriceLag, lagging_prices
from ..domain.reports import (
    MATCH_COLUMNS,
    UNMATCHED_COLUMNS,
    MatchRow,
    Reports,
    read_match_report,
    read_unmatched_report,
)
from ..incremental.consistency import PartRecords, ReportCoverage, report_coverage
from ..incremental.diagnostics_cache import diagnose_with_cache
from ..incremental.file_summaries import summarise_file
from ..incremental.fingerprints import bytes_fingerprint, combine, text_fingerprint
from ..incremental.memo import StepMemo, can_reuse, output_stamp
from ..incremental.metadata_files import MetadataFiles
from ..incremental.report_parts import save_report_parts
from ..incremental.stooq_sources import StooqSources
from ..incremental.universe_parts import load_universe_parts
from ..io.atomic_files import file_holds, remove_leftover_temp_files, replace_all, stage_bytes
from ..settings import MAX_PRICE_LAG_DAYS, MAX_UNMATCHED_SHARE, Settings
from .asset_checks import CheckOutcome, CheckReading
from .asset_metadata import Cell, Counts, FilePath, Listing, MetadataItem, Preview, Table, TableShape
from .common import StepResult, bytes_hash, require_output
from .match_changes import ChangeRecording
from .match_report_parts import ReportSummary, plan_parts
from .registry import cache_version, step_code_version

__all__ = [
    "CHANGE_TABLE_LIMIT",
    "ReportResult",
    "build_match_reports",
    "change_metadata",
    "describe_not_read",
    "every_instrument_reported_once",
    "export_view_version",
    "files_not_read",
    "metadata",
    "price_lag_below_threshold",
    "unmatched_share_below_threshold",
]


@dataclass(frozen=True)
class ReportResult(StepResult):
    summary: ReportSummary
    stats: dict[str, float]
    warnings: list[str]
    changes: ChangeSet
    report_hash: str = ""  # of both reports' text, shown in metadata (not the data version)
    settings: Settings | None = None

    def input_warnings(self) -> list[str]:
        return self.warnings

    def log_lines(self) -> list[tuple[Literal["info", "warning"], str]]:
        return [("info", f"changes since the previous reports: {self.changes.counts.summary()}")]

    @property
    def reports(self) -> Reports:
        """Both reports' rows, read from disk (the step itself keeps only what changed)."""
        assert self.settings is not None
        return Reports(
            read_match_report(self.settings.match_report_path),
            read_unmatched_report(self.settings.unmatched_report_path),
        )


def _require_all_read(settings: Settings, diagnosed: dict[str, Diagnostics]) -> None:
    """Fail when a matched file listed in the index is gone: the tree changed since the index
    was built (or a folder was moved away for a moment), and reporting `missing_file` would
    remove exports that are fine. The next refresh re-indexes first."""
    if not settings.stooq_dir.is_dir():
        raise InputVanished(settings.stooq_dir, "the matched Stooq files were being read")
    gone = [path for path, diagnostics in diagnosed.items() if diagnostics.data_status == MISSING_FILE]
    if gone:
        more = f" (and {len(gone) - 1} more matched files)" if len(gone) > 1 else ""
        raise InputVanished(
            settings.stooq_dir / gone[0],
            f"match_report was reading the matched Stooq files{more}; the Stooq tree "
            "changed since stooq_index was built",
        )


def build_match_reports(
    settings: Settings, previous: StepMemo | None = None, force: bool = False, run_id: str | None = None
) -> ReportResult:
    """Both reports, and what changed since the previous ones: recorded in the change
    history under `run_id` when one is given (a Dagster run)."""
    started = time.perf_counter()
    index_bytes = require_output(settings.index_path, "stooq_index")
    universe_bytes = require_output(settings.universe_path, "tradeable_universe")
    index_hash = bytes_hash(index_bytes)
    parts_version = cache_version("report_parts")
    files = MetadataFiles(settings.metadata_dir)
    recording = ChangeRecording(settings, run_id)
    settled = recording.settle_interrupted()  # before the reports on disk are read as the previous ones
    plan = plan_parts(
        universe_bytes,
        # tradeable_universe's record of the universe's parts (it reports a damaged one)
        load_universe_parts(files.universe_parts_path, cache_version("universe_parts"), universe_bytes)[0],
        (settings.match_report_path, settings.unmatched_report_path),
        files.report_parts_path,
        parts_version,
        index_hash,
        settings.lse_currency_policy,
        force,
    )
    instrument_count = sum(len(work.pending) for work in plan.lists) + sum(
        work.kept.match_range[2] + work.kept.unmatched_range[2] for work in plan.lists if work.kept is not None
    )
    matched = plan.match(
        settings.index_path,
        combine(cache_version("matching"), index_hash),
        files.match_cache_path,
        force,
        instrument_count,
    )
    matched_paths = plan.matched_paths()
    # The matched files' stamps are part of the version so that price_exports, which
    # copies their rows, goes stale when one changes without moving its diagnostics.
    sources = StooqSources(settings.stooq_dir)
    stamps = [f"{path}:{sources.stamp(path)}" for path in matched_paths]
    fingerprint = combine(step_code_version("match_report", settings), index_hash, bytes_hash(universe_bytes), *stamps)
    outputs = [settings.match_report_path, settings.unmatched_report_path]
    stats: dict[str, float] = {
        "instruments_reused": matched.reused,
        "instruments_rematched": matched.rematched,
        "instruments_read": plan.instruments_read,
    }
    warnings = [w for w in (matched.warning, settled, plan.record_warning) if w]
    # A report naming files that could not be read is not reused: those are read again.
    if can_reuse(previous, fingerprint, outputs, force) and not files_not_read(settings):
        stats.update(
            stooq_files_read=0,
            diagnostics_reused=len(matched_paths),
            report_rows_made=0,
            report_rows_refreshed=0,
            seconds=round(time.perf_counter() - started, 3),
        )
        summary = plan.summary_unchanged()
        return ReportResult(previous, True, summary, stats, warnings, recording.record_unchanged(), settings=settings)
    diagnosed = diagnose_with_cache(
        settings.stooq_dir,
        matched_paths,
        files.diagnostics_cache_path,
        cache_version("diagnostics"),
        summarise_file,
        force=force,
    )
    warnings += [w for w in (diagnosed.warning,) if w]
    _require_all_read(settings, diagnosed.by_path)
    built = plan.build(diagnosed.by_path, settings.lse_currency_policy, index_hash)
    warnings += [plan.warning] if plan.warning else []
    report_hash = bytes_fingerprint(built.match_report, built.unmatched_report)
    remove_leftover_temp_files(settings.metadata_dir)
    # Both reports are staged before either replaces its predecessor.
    encoded = zip(outputs, (built.match_report, built.unmatched_report), strict=True)
    staged = [(stage_bytes(path, data), path) for path, data in encoded if not file_holds(path, data)]
    with recording.replacing(built.changes, report_hash):
        replace_all(staged)
    save_report_parts(files.report_parts_path, parts_version, built.parts)
    memo = StepMemo(fingerprint, output_stamp(outputs), export_view_version(built.export_view, diagnosed.contents))
    stats.update(
        stooq_files_read=diagnosed.files_read,
        stooq_files_extended=diagnosed.files_extended,
        stooq_bytes_read=diagnosed.bytes_read,
        stooq_bytes_parsed=diagnosed.bytes_parsed,
        stooq_rows_parsed=diagnosed.rows_parsed,
        diagnostics_reused=diagnosed.reused,
        report_rows_made=built.rows_made,
        report_rows_refreshed=built.rows_refreshed,
        seconds=round(time.perf_counter() - started, 3),
    )
    return ReportResult(memo, False, built.summary, stats, warnings, built.changes, report_hash, settings)


def export_view_version(view: list[tuple[str, str, str]], contents: Mapping[str, str]) -> str:
    """match_report's data version: what price_exports reads from it.

    That is, for each distinct matched ticker (first match winning), its export's file
    name, its file, its data_status (`view`) and what the file holds
    (`DiagnosedFiles.contents`: the exports copy its rows; a file touched or chmod-ed
    holds the same). A report change elsewhere (currency cells, unmatched rows, the order
    of duplicate rows) keeps this version, so price_exports stays fresh, as SPEC 6 asks."""
    return text_fingerprint(
        *(
            f"{file_name}\0{stooq_path}\0{data_status}\0{contents.get(stooq_path, '')}"
            for file_name, stooq_path, data_status in view
        )
    )


def _not_read(rows: list[MatchRow]) -> dict[str, str]:
    return {row["stooq_path"]: name for row in rows if (name := read_failure(row["data_status"])) is not None}


def files_not_read(settings: Settings) -> dict[str, str]:
    """The matched files the match report on disk says could not be read, by relative path,
    with the error's name; none when there is no readable report."""
    try:
        return _not_read(read_match_report(settings.match_report_path))
    except (OSError, ValueError):
        return {}  # no report, or a damaged one: its own status says so


def describe_not_read(files: dict[str, str]) -> str:
    """ "2 matched files could not be read last time (PermissionError)"."""
    names = ", ".join(sorted(set(files.values())))
    return f"{len(files)} matched file{'s' if len(files) != 1 else ''} could not be read last time ({names})"


# Rows of the changed-instruments table; a daily update extends the prices of thousands.
CHANGE_TABLE_LIMIT = 500
_CHANGE_COLUMNS = (
    ("kind", "string"),
    ("source_file", "string"),
    ("symbol", "string"),
    ("market", "string"),
    ("isin", "string"),
    ("occurrence", "int"),
    ("column", "string"),
    ("from", "string"),
    ("to", "string"),
    ("ticker", "string"),
)


def change_metadata(changes: ChangeSet) -> dict[str, MetadataItem]:
    """What changed since the previous reports: a summary line, a number per kind (plotted
    over time; absent when there was nothing to compare with) and the changed instruments."""
    counts = changes.counts
    summary = counts.summary()
    if len(changes.changes) > CHANGE_TABLE_LIMIT:
        summary += (
            f" (the table shows the first {CHANGE_TABLE_LIMIT} of {len(changes.changes)} changes; "
            "`portfolio-assets changes --all` lists them all)"
        )
    metadata: dict[str, MetadataItem] = {"changes_summary": summary, "changes_compared_with_previous": changes.compared}
    if changes.compared:
        metadata.update({f"changes_{kind}": counts.by_kind[kind] for kind in CHANGE_KINDS})
    metadata["changed_instruments"] = Table(
        _CHANGE_COLUMNS,
        [
            {
                "kind": change.kind,
                "source_file": change.instrument.source_file,
                "symbol": change.instrument.symbol,
                "market": change.instrument.market,
                "isin": change.instrument.isin,
                "occurrence": change.instrument.occurrence,
                "column": change.column,
                "from": change.before,
                "to": change.after,
                "ticker": change.ticker,
            }
            for change in changes.changes[:CHANGE_TABLE_LIMIT]
        ],
    )
    return metadata


_LAG_COLUMNS = ("symbol", "market", "isin", "source_file", "matched_ticker", "region", "price_end")


def lag_table(lags: Sequence[PriceLag], limit: int = 200) -> Table:
    """The lagging instruments, most lagging first, with their region's newest price_end and the lag."""
    columns = [
        *((name, "date" if name == "price_end" else "string") for name in _LAG_COLUMNS),
        ("region_newest", "date"),
        ("lag_business_days", "int"),
    ]
    records: list[dict[str, Cell]] = [
        {
            **{name: str(lag.row[name]) for name in _LAG_COLUMNS},
            "region_newest": lag.region_newest,
            "lag_business_days": lag.business_days,
        }
        for lag in lags[:limit]
    ]
    return Table(columns, records)


def metadata(settings: Settings, result: ReportResult) -> dict[str, MetadataItem]:
    summary = result.summary
    return {
        "match_report_path": FilePath(settings.match_report_path),
        "unmatched_report_path": FilePath(settings.unmatched_report_path),
        "instrument_count": summary.matched_count + summary.unmatched_count,
        "report_hash": result.report_hash or "(reused)",
        "matched_count": summary.matched_count,
        "shape": TableShape(MATCH_COLUMNS, summary.matched_count),
        "unmatched_count": summary.unmatched_count,
        **change_metadata(result.changes),
        **result.stats,
        "by_strategy": Counts("strategy", summary.counts["strategy"]),
        "by_data_status": Counts("data_status", summary.counts["data_status"]),
        "by_currency_status": Counts("currency_status", summary.counts["currency_status"]),
        "unmatched_by_reason": Counts("reason", summary.counts["reason"]),
        "match_preview": Preview(MATCH_COLUMNS, summary.match_preview),
        "unmatched_preview": Preview(UNMATCHED_COLUMNS, summary.unmatched_preview),
    }


def _coverage(reading: CheckReading) -> ReportCoverage:
    def read() -> ReportCoverage:
        s = reading.settings
        files = MetadataFiles(s.metadata_dir)
        records = PartRecords(
            files.universe_parts_path,
            cache_version("universe_parts"),
            files.report_parts_path,
            cache_version("report_parts"),
            files.coverage_checked_path,
        )
        return report_coverage(s.universe_path, s.match_report_path, s.unmatched_report_path, records)

    return reading.once("report_coverage", read)


def every_instrument_reported_once(reading: CheckReading) -> CheckOutcome:
    coverage = _coverage(reading)
    return CheckOutcome(
        coverage.passed,
        {
            "universe_rows": coverage.universe_rows,
            "reported_rows": coverage.matched_rows + coverage.unmatched_rows,
            "rows_read": coverage.rows_read,
            "missing": Listing(coverage.missing),
            "extra": Listing(coverage.extra),
        },
    )


def unmatched_share_below_threshold(reading: CheckReading) -> CheckOutcome:
    coverage = _coverage(reading)
    threshold = MAX_UNMATCHED_SHARE.read()
    return CheckOutcome(
        coverage.unmatched_share <= threshold,
        {
            "unmatched_share": round(coverage.unmatched_share, 4),
            "threshold": threshold,
            "unmatched_rows": coverage.unmatched_rows,
        },
        severity="warn",
    )


def price_lag_below_threshold(reading: CheckReading) -> CheckOutcome:
    max_lag = MAX_PRICE_LAG_DAYS.read()
    lags = lagging_prices(read_match_report(reading.settings.match_report_path), max_lag)
    return CheckOutcome(
        not lags,
        {
            "lagging_count": len(lags),
            "max_lag_business_days": max_lag,
            "largest_lag_business_days": lags[0].business_days if lags else 0,
            "lagging": lag_table(lags),
        },
        severity="warn",
    )
