"""The match_report step: each instrument matched to a Stooq file with diagnostics and
currency (tradeable_matches.csv), or why not (tradeable_unmatched.csv), and what changed
since the previous reports (`match_changes.py`).

A matched file that could not be read (`error:PermissionError`, ...) owes its outcome to
the moment, not to its bytes: the report that says so is never reused, and
`files_not_read` tells the status and the sensors which files to read again."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..domain.broker_lists import read_universe
from ..domain.changes import ChangeSet
from ..domain.diagnostics import Diagnostics, read_failure
from ..domain.errors import InputVanished
from ..domain.exports import plan_exports
from ..domain.matching import Match, Unmatched
from ..domain.reports import (
    MatchRow,
    Reports,
    build_reports,
    read_match_report,
    render_match_report,
    render_unmatched_report,
)
from ..domain.settings import Settings
from ..incremental.diagnostics_cache import diagnose_with_cache
from ..incremental.file_summaries import summarise_file
from ..incremental.fingerprints import combine, text_fingerprint
from ..incremental.match_cache import match_with_cache
from ..incremental.memo import StepMemo, can_reuse, file_stamp, output_stamp
from ..io.atomic_files import file_holds, remove_leftover_temp_files, replace_all, stage_bytes
from .common import StepResult, bytes_hash, require_output
from .match_changes import ChangeRecording
from .registry import cache_version, step_code_version

__all__ = ["ReportResult", "build_match_reports", "describe_not_read", "export_view_version", "files_not_read"]


@dataclass(frozen=True)
class ReportResult(StepResult):
    reports: Reports
    stats: dict[str, float]
    warnings: list[str]
    changes: ChangeSet
    report_hash: str = ""  # of both reports' text, shown in metadata (not the data version)


def _require_all_read(settings: Settings, diagnosed: dict[str, Diagnostics]) -> None:
    """Fail when a matched file listed in the index is gone: the tree changed since the index
    was built (or a folder was moved away for a moment), and reporting `missing_file` would
    remove exports that are fine. The next refresh re-indexes first."""
    if not settings.stooq_dir.is_dir():
        raise InputVanished(settings.stooq_dir, "the matched Stooq files were being read")
    gone = [path for path, diagnostics in diagnosed.items() if diagnostics.data_status == "missing_file"]
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
    instruments = read_universe(settings.universe_path)
    index_hash = bytes_hash(index_bytes)
    matched = match_with_cache(
        instruments,
        settings.index_path,
        combine(cache_version("matching"), index_hash),
        settings.match_cache_path,
        force=force,
    )
    outcomes = matched.outcomes
    matched_paths = list(dict.fromkeys(o.entry.relative_path for o in outcomes if isinstance(o, Match)))
    # The matched files' stamps are part of the version so that price_exports, which
    # copies their rows, goes stale when one changes without moving its diagnostics.
    stamps = [f"{path}:{file_stamp(settings.stooq_dir / path)}" for path in matched_paths]
    fingerprint = combine(step_code_version("match_report", settings), index_hash, bytes_hash(universe_bytes), *stamps)
    outputs = [settings.match_report_path, settings.unmatched_report_path]
    stats: dict[str, float] = {"instruments_reused": matched.reused, "instruments_rematched": matched.rematched}
    recording = ChangeRecording(settings, run_id)
    warnings = [w for w in (matched.warning, recording.settle_interrupted()) if w]
    # A report naming files that could not be read is not reused: those are read again.
    if can_reuse(previous, fingerprint, outputs, force) and not _not_read(
        previous_rows := read_match_report(settings.match_report_path)
    ):
        reports = Reports(
            previous_rows,
            [
                (*instrument.as_row(), outcome.reason)
                for instrument, outcome in zip(instruments, outcomes, strict=False)
                if isinstance(outcome, Unmatched)
            ],
        )
        stats.update(
            stooq_files_read=0, diagnostics_reused=len(matched_paths), seconds=round(time.perf_counter() - started, 3)
        )
        return ReportResult(previous, True, reports, stats, warnings, recording.record_unchanged())
    diagnosed = diagnose_with_cache(
        settings.stooq_dir,
        matched_paths,
        settings.diagnostics_cache_path,
        cache_version("diagnostics"),
        summarise_file,
        force=force,
    )
    warnings += [w for w in (diagnosed.warning,) if w]
    _require_all_read(settings, diagnosed.by_path)
    reports = build_reports(instruments, outcomes, diagnosed.by_path, settings.lse_currency_policy)
    changes, unreadable = recording.compare(reports)
    warnings += [unreadable] if unreadable else []
    match_text = render_match_report(reports.matches)
    unmatched_text = render_unmatched_report(reports.unmatched)
    report_hash = text_fingerprint(match_text, unmatched_text)
    remove_leftover_temp_files(settings.metadata_dir)
    # Both reports are staged before either replaces its predecessor.
    encoded = [(path, text.encode("utf-8")) for path, text in zip(outputs, (match_text, unmatched_text), strict=False)]
    staged = [(stage_bytes(path, data), path) for path, data in encoded if not file_holds(path, data)]
    with recording.replacing(changes, report_hash):
        replace_all(staged)
    memo = StepMemo(fingerprint, output_stamp(outputs), export_view_version(reports, diagnosed.contents))
    stats.update(
        stooq_files_read=diagnosed.files_read,
        stooq_files_extended=diagnosed.files_extended,
        stooq_bytes_read=diagnosed.bytes_read,
        stooq_bytes_parsed=diagnosed.bytes_parsed,
        stooq_rows_parsed=diagnosed.rows_parsed,
        diagnostics_reused=diagnosed.reused,
        seconds=round(time.perf_counter() - started, 3),
    )
    return ReportResult(memo, False, reports, stats, warnings, changes, report_hash)


def export_view_version(reports: Reports, contents: dict[str, str]) -> str:
    """match_report's data version: what price_exports reads from it.

    That is, for each distinct matched ticker (first match winning), its file, its
    data_status and what the file holds (`DiagnosedFiles.contents`: the exports copy its
    rows; a file touched or chmod-ed holds the same). A report
    change elsewhere (currency cells, unmatched rows, the order of duplicate rows)
    keeps this version, so price_exports stays fresh, as SPEC 6 asks."""
    view = plan_exports(reports.matches, include_empty=True)
    return text_fingerprint(
        *(
            f"{item.file_name}\0{item.stooq_path}\0{item.data_status}\0{contents.get(item.stooq_path, '')}"
            for item in view
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
