"""The four pipeline steps as plain functions over settings: what each asset computes.

Each step reads its inputs, writes its outputs atomically and returns a result
with counts for metadata and a content hash for the data version.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .atomic_files import remove_leftover_temp_files, replace_all, stage_bytes, write_text_atomic
from .broker_lists import Instrument, read_broker_folder, read_universe, render_universe
from .diagnostics import Diagnostics, diagnose
from .errors import MissingInputFolder, PortfolioInputError
from .exports import existing_export_names, plan_exports, render_export
from .fingerprints import text_fingerprint
from .matching import Match, StooqLookup, match_instrument
from .price_files import PriceLines, read_price_lines
from .reports import Reports, build_reports, read_match_report, render_match_report, render_unmatched_report
from .settings import SETTING_VARIABLES, Settings
from .stooq_tree import IndexEntry, build_index, read_index, render_index, scan_stooq_tree

__all__ = ["IndexResult", "UniverseResult", "ReportResult", "ExportResult", "MissingUpstreamOutput",
           "require_folder", "build_stooq_index", "build_universe", "build_match_reports",
           "build_price_exports"]


class MissingUpstreamOutput(PortfolioInputError):
    def __init__(self, path: Path, asset: str) -> None:
        super().__init__(f"{path} is missing; materialize {asset} first")


@dataclass(frozen=True)
class IndexResult:
    entries: list[IndexEntry]
    data_version: str
    rows_by_region: dict[str, int]


@dataclass(frozen=True)
class UniverseResult:
    instruments: list[Instrument]
    data_version: str
    rows_by_source_file: dict[str, int]


@dataclass(frozen=True)
class ReportResult:
    reports: Reports
    data_version: str
    files_diagnosed: int


@dataclass(frozen=True)
class ExportResult:
    data_version: str
    exported: list[str]
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def require_folder(path: Path, setting: str, what: str) -> None:
    if not path.is_dir():
        raise MissingInputFolder(path, SETTING_VARIABLES[setting], what)


def _require_output(path: Path, asset: str) -> None:
    if not path.is_file():
        raise MissingUpstreamOutput(path, asset)


def build_stooq_index(settings: Settings) -> IndexResult:
    require_folder(settings.stooq_dir, "stooq_dir", "Stooq")
    entries = build_index(scan_stooq_tree(settings.stooq_dir))
    text = render_index(entries)
    remove_leftover_temp_files(settings.metadata_dir)
    write_text_atomic(settings.index_path, text)
    regions = Counter(entry.region for entry in entries)
    return IndexResult(entries, text_fingerprint(text), dict(sorted(regions.items())))


def build_universe(settings: Settings) -> UniverseResult:
    require_folder(settings.tradeable_dir, "tradeable_dir", "broker list")
    instruments = read_broker_folder(settings.tradeable_dir)
    text = render_universe(instruments)
    remove_leftover_temp_files(settings.metadata_dir)
    write_text_atomic(settings.universe_path, text)
    sources = Counter(item.source_file for item in instruments)
    return UniverseResult(instruments, text_fingerprint(text), dict(sources))


def source_stamp(path: Path) -> str:
    """Size and mtime of a Stooq file, the cheap sign that its content changed."""
    try:
        stat = path.stat()
    except OSError:
        return "missing"
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def diagnose_file(stooq_dir: Path, relative_path: str) -> Diagnostics:
    return diagnose(read_price_lines(stooq_dir / relative_path))


def build_match_reports(settings: Settings) -> ReportResult:
    _require_output(settings.index_path, "stooq_index")
    _require_output(settings.universe_path, "tradeable_universe")
    lookup = StooqLookup(read_index(settings.index_path))
    instruments = read_universe(settings.universe_path)
    outcomes = [match_instrument(item.symbol, item.market, lookup) for item in instruments]
    matched_paths = dict.fromkeys(
        outcome.entry.relative_path for outcome in outcomes if isinstance(outcome, Match)
    )
    diagnostics = {path: diagnose_file(settings.stooq_dir, path) for path in matched_paths}
    stamps = [f"{path}:{source_stamp(settings.stooq_dir / path)}" for path in matched_paths]
    reports = build_reports(instruments, outcomes, diagnostics, settings.lse_currency_policy)
    match_text = render_match_report(reports.matches)
    unmatched_text = render_unmatched_report(reports.unmatched)
    remove_leftover_temp_files(settings.metadata_dir)
    staged = [
        (stage_bytes(settings.match_report_path, match_text.encode("utf-8")), settings.match_report_path),
        (stage_bytes(settings.unmatched_report_path, unmatched_text.encode("utf-8")),
         settings.unmatched_report_path),
    ]
    replace_all(staged)
    # The matched files' stamps are part of the version so that price_exports, which
    # copies their rows, goes stale when one changes without moving its diagnostics.
    version = text_fingerprint(match_text, unmatched_text, *stamps)
    return ReportResult(reports, version, len(diagnostics))


def build_price_exports(settings: Settings) -> ExportResult:
    _require_output(settings.match_report_path, "match_report")
    planned = plan_exports(read_match_report(settings.match_report_path), settings.include_empty)
    prices_dir = settings.prices_dir
    prices_dir.mkdir(parents=True, exist_ok=True)
    remove_leftover_temp_files(prices_dir)
    written, unchanged, hashes = [], [], []
    for item in planned:
        source = read_price_lines(settings.stooq_dir / item.stooq_path)
        text = render_export(source if isinstance(source, PriceLines) else None)
        target = prices_dir / item.file_name
        data = text.encode("utf-8")
        if target.is_file() and target.read_bytes() == data:
            unchanged.append(item.file_name)
        else:
            write_text_atomic(target, text)
            written.append(item.file_name)
        hashes.append(f"{item.file_name}:{text_fingerprint(text)}")
    keep = {item.file_name for item in planned}
    removed = sorted(existing_export_names(prices_dir) - keep)
    for name in removed:
        (prices_dir / name).unlink(missing_ok=True)
    return ExportResult(text_fingerprint(*hashes), [item.file_name for item in planned], written,
                        unchanged, removed)
