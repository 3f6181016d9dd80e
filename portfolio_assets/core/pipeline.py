"""The four pipeline steps as plain functions over settings: what each asset computes.

Each step reads its inputs, writes its outputs atomically and returns a result
with counts for metadata, a content hash for the data version, and the memo
(input fingerprint, output stamp) that lets the next run reuse its outputs.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .atomic_files import file_holds, remove_leftover_temp_files, replace_all, stage_bytes, write_text_if_changed
from .broker_lists import Instrument, parse_broker_list, read_universe, render_universe
from .diagnostics_cache import diagnose_with_cache
from .errors import InputVanished, MissingInputFolder, PortfolioInputError
from .export_manifest import stray_exports, sync_exports
from .diagnostics import Diagnostics
from .exports import PlannedExport, existing_export_names, plan_exports
from .fingerprints import combine, lists_fingerprint, read_broker_bytes, stooq_fingerprint, text_fingerprint
from .match_cache import match_with_cache
from .matching import Match, Unmatched
from .memo import StepMemo, can_reuse, file_stamp, output_stamp
from .price_scan import diagnose_path
from .reports import Reports, build_reports, read_match_report, render_match_report, render_unmatched_report
from .settings import SETTING_VARIABLES, Settings, max_removed_share
from .stooq_tree import IndexEntry, StooqFile, build_index, remember_index, render_index, scan_stooq_tree
from .versions import CACHE_VERSIONS, STEP_LOGIC_VERSIONS, step_code_version

__all__ = ["StepResult", "IndexResult", "UniverseResult", "ReportResult", "ExportResult",
           "MissingUpstreamOutput", "require_folder", "build_stooq_index", "build_universe",
           "build_match_reports", "build_price_exports", "broker_list_hashes", "EmptyStooqTree",
           "export_strays"]


class EmptyStooqTree(PortfolioInputError):
    """A Stooq folder with no price file: an unmounted share or an unpacking in progress,
    never a state whose index should replace the last one (it would remove every export)."""


class MissingUpstreamOutput(PortfolioInputError):
    """An output of an earlier step that a later step needs and cannot find."""

    def __init__(self, path: Path, asset: str) -> None:
        self.path = Path(path)
        self.asset = asset
        super().__init__(f"{path} is missing; materialize {asset} first")


@dataclass(frozen=True)
class StepResult:
    memo: StepMemo
    reused: bool

    @property
    def data_version(self) -> str:
        return self.memo.data_version


@dataclass(frozen=True)
class IndexResult(StepResult):
    entries: list[IndexEntry]
    rows_by_region: dict[str, int]
    source_version: str  # the stooq_files fingerprint of the tree actually indexed
    seconds: float


@dataclass(frozen=True)
class UniverseResult(StepResult):
    instruments: list[Instrument]
    rows_by_source_file: dict[str, int]
    list_hashes: dict[str, str]
    source_version: str  # the tradeable_instruments fingerprint of the bytes actually read
    seconds: float


@dataclass(frozen=True)
class ReportResult(StepResult):
    reports: Reports
    stats: dict[str, float]
    warnings: list[str]
    report_hash: str = ""  # of both reports' text, shown in metadata (not the data version)


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


def _cache_version(cache: str) -> str:
    """A cache's own version plus its step's logic version: bumping either empties it."""
    step = "price_exports" if cache == "exports" else "match_report"
    return f"{CACHE_VERSIONS[cache]}.{STEP_LOGIC_VERSIONS[step]}"


def require_folder(path: Path, setting: str, what: str) -> None:
    if not path.is_dir():
        raise MissingInputFolder(path, SETTING_VARIABLES[setting], what)


def _require_output(path: Path, asset: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise MissingUpstreamOutput(path, asset) from None


def _bytes_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:24]


def build_stooq_index(settings: Settings, previous: StepMemo | None = None, force: bool = False,
                      scan: list[StooqFile] | None = None) -> IndexResult:
    """The index of `scan` (the stat scan an observation just took), or of a scan taken now."""
    started = time.perf_counter()
    require_folder(settings.stooq_dir, "stooq_dir", "Stooq")
    files = scan if scan is not None else scan_stooq_tree(settings.stooq_dir)
    if not files:
        raise EmptyStooqTree(
            f"the Stooq folder {settings.stooq_dir} holds no *.txt price file (an unmounted share, or an "
            "archive still being unpacked?); stooq_index and everything after it were left as they were. "
            f"Run again once the files are back, or set {SETTING_VARIABLES['stooq_dir']} to the right folder")
    entries = build_index([item.relative_path for item in files])
    text = render_index(entries)
    version = text_fingerprint(text)
    fingerprint = combine(step_code_version("stooq_index", settings), version)
    outputs = [settings.index_path]
    reused = can_reuse(previous, fingerprint, outputs, force)
    if not reused:
        remove_leftover_temp_files(settings.metadata_dir)
        write_text_if_changed(settings.index_path, text)
    remember_index(settings.index_path, entries)
    regions = Counter(entry.region for entry in entries)
    memo = StepMemo(fingerprint, output_stamp(outputs), version)
    return IndexResult(memo, reused, entries, dict(sorted(regions.items())), stooq_fingerprint(files),
                       round(time.perf_counter() - started, 3))


def broker_list_hashes(folder: Path) -> dict[str, str]:
    """Content hash of each broker list by file name, to say which list changed."""
    return {path.name: _bytes_hash(data) for path, data in read_broker_bytes(folder)}


def build_universe(settings: Settings, previous: StepMemo | None = None, force: bool = False) -> UniverseResult:
    started = time.perf_counter()
    require_folder(settings.tradeable_dir, "tradeable_dir", "broker list")
    contents = read_broker_bytes(settings.tradeable_dir)  # one read: parsed and fingerprinted alike
    source_version = lists_fingerprint(contents)
    fingerprint = combine(step_code_version("tradeable_universe", settings), source_version)
    instruments = [item for path, data in contents for item in parse_broker_list(path, data)]
    text = render_universe(instruments)
    outputs = [settings.universe_path]
    reused = can_reuse(previous, fingerprint, outputs, force)
    if not reused:
        remove_leftover_temp_files(settings.metadata_dir)
        write_text_if_changed(settings.universe_path, text)
    sources = Counter(item.source_file for item in instruments)
    memo = StepMemo(fingerprint, output_stamp(outputs), text_fingerprint(text))
    hashes = {path.name: _bytes_hash(data) for path, data in contents}
    return UniverseResult(memo, reused, instruments, dict(sources), hashes, source_version,
                          round(time.perf_counter() - started, 3))


def _require_all_read(settings: Settings, diagnosed: dict[str, Diagnostics]) -> None:
    """Fail when a matched file listed in the index is gone: the tree changed since the index
    was built (or a folder was moved away for a moment), and reporting `missing_file` would
    remove exports that are fine. The next refresh re-indexes first."""
    if not settings.stooq_dir.is_dir():
        raise InputVanished(settings.stooq_dir, "the matched Stooq files were being read")
    gone = [path for path, diagnostics in diagnosed.items() if diagnostics.data_status == "missing_file"]
    if gone:
        more = f" (and {len(gone) - 1} more matched files)" if len(gone) > 1 else ""
        raise InputVanished(settings.stooq_dir / gone[0],
                            f"match_report was reading the matched Stooq files{more}; the Stooq tree "
                            "changed since stooq_index was built")


def build_match_reports(settings: Settings, previous: StepMemo | None = None,
                        force: bool = False) -> ReportResult:
    started = time.perf_counter()
    index_bytes = _require_output(settings.index_path, "stooq_index")
    universe_bytes = _require_output(settings.universe_path, "tradeable_universe")
    instruments = read_universe(settings.universe_path)
    index_hash = _bytes_hash(index_bytes)
    matched = match_with_cache(instruments, settings.index_path, combine(_cache_version("matching"), index_hash),
                               settings.match_cache_path, force=force)
    outcomes = matched.outcomes
    matched_paths = list(dict.fromkeys(o.entry.relative_path for o in outcomes if isinstance(o, Match)))
    # The matched files' stamps are part of the version so that price_exports, which
    # copies their rows, goes stale when one changes without moving its diagnostics.
    stamps = [f"{path}:{file_stamp(settings.stooq_dir / path)}" for path in matched_paths]
    fingerprint = combine(step_code_version("match_report", settings), index_hash,
                          _bytes_hash(universe_bytes), *stamps)
    outputs = [settings.match_report_path, settings.unmatched_report_path]
    stats = {"instruments_reused": matched.reused, "instruments_rematched": matched.rematched}
    warnings = [w for w in (matched.warning,) if w]
    if can_reuse(previous, fingerprint, outputs, force):
        reports = Reports(read_match_report(settings.match_report_path),
                          [instrument.as_row() + (outcome.reason,) for instrument, outcome
                           in zip(instruments, outcomes) if isinstance(outcome, Unmatched)])
        stats.update(stooq_files_read=0, diagnostics_reused=len(matched_paths),
                     seconds=round(time.perf_counter() - started, 3))
        return ReportResult(previous, True, reports, stats, warnings)
    diagnosed = diagnose_with_cache(settings.stooq_dir, matched_paths, settings.diagnostics_cache_path,
                                    _cache_version("diagnostics"), diagnose_path, force=force)
    warnings += [w for w in (diagnosed.warning,) if w]
    _require_all_read(settings, diagnosed.by_path)
    reports = build_reports(instruments, outcomes, diagnosed.by_path, settings.lse_currency_policy)
    match_text = render_match_report(reports.matches)
    unmatched_text = render_unmatched_report(reports.unmatched)
    remove_leftover_temp_files(settings.metadata_dir)
    # Both reports are staged before either replaces its predecessor.
    encoded = [(path, text.encode("utf-8")) for path, text in zip(outputs, (match_text, unmatched_text))]
    replace_all([(stage_bytes(path, data), path) for path, data in encoded if not file_holds(path, data)])
    memo = StepMemo(fingerprint, output_stamp(outputs), export_view_version(reports, diagnosed.stamps))
    stats.update(stooq_files_read=diagnosed.files_read, diagnostics_reused=diagnosed.reused,
                 seconds=round(time.perf_counter() - started, 3))
    return ReportResult(memo, False, reports, stats, warnings, text_fingerprint(match_text, unmatched_text))


def export_view_version(reports: Reports, stamps: dict[str, str]) -> str:
    """match_report's data version: what price_exports reads from it.

    That is, for each distinct matched ticker (first match winning), its file, its
    data_status and the file's size and mtime (the exports copy its rows). A report
    change elsewhere (currency cells, unmatched rows, the order of duplicate rows)
    keeps this version, so price_exports stays fresh, as SPEC 6 asks."""
    view = plan_exports(reports.matches, include_empty=True)
    return text_fingerprint(*(f"{item.file_name}\0{item.stooq_path}\0{item.data_status}\0"
                              f"{stamps.get(item.stooq_path, '')}" for item in view))


def build_price_exports(settings: Settings, previous: StepMemo | None = None,
                        force: bool = False) -> ExportResult:
    started = time.perf_counter()
    _require_output(settings.match_report_path, "match_report")
    planned = plan_exports(read_match_report(settings.match_report_path), settings.include_empty)
    prices_dir = settings.prices_dir
    # Only what the exports are made of counts: a report change elsewhere (currency
    # cells, unmatched rows) reuses every export.
    fingerprint = combine(step_code_version("price_exports", settings), *(
        f"{item.file_name}:{item.stooq_path}:{file_stamp(settings.stooq_dir / item.stooq_path)}"
        for item in planned))
    outputs = [prices_dir / item.file_name for item in planned]
    exported = [item.file_name for item in planned]
    unplanned = existing_export_names(prices_dir) - set(exported)
    strays = export_strays(settings, planned) if unplanned else []
    if can_reuse(previous, fingerprint, outputs, force) and not unplanned - set(strays):
        stats = {"stooq_files_read": 0, "seconds": round(time.perf_counter() - started, 3)}
        return ExportResult(previous, True, exported, [], [], exported, [], stats, [], strays)
    require_folder(settings.stooq_dir, "stooq_dir", "Stooq")
    sync = sync_exports(settings.stooq_dir, prices_dir, planned, settings.export_manifest_path,
                        settings.exports_written_path, _cache_version("exports"), force=force,
                        max_removed_share=max_removed_share())
    version = text_fingerprint(*(f"{name}:{sync.content_hashes[name]}" for name in exported))
    memo = StepMemo(fingerprint, output_stamp(outputs), version)
    stats = {"stooq_files_read": sync.files_read, "seconds": round(time.perf_counter() - started, 3)}
    return ExportResult(memo, False, exported, sync.written, sync.unchanged, sync.untouched, sync.removed,
                        stats, sync.warnings, sync.strays)


def export_strays(settings: Settings, planned: list[PlannedExport] | None = None) -> list[str]:
    """CSV files in the prices folder that the report does not call for and that the
    pipeline did not write: the user's own, reported and never removed."""
    if planned is None:
        if not settings.match_report_path.is_file():
            return []
        planned = plan_exports(read_match_report(settings.match_report_path), settings.include_empty)
    return stray_exports(settings.prices_dir, planned, settings.export_manifest_path,
                         settings.exports_written_path, _cache_version("exports"))
