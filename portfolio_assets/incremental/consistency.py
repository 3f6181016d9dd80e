"""Consistency rules over the outputs, as the asset checks report them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..domain.broker_lists import read_universe
from ..domain.csv_files import read_csv_dicts
from ..domain.exports import plan_exports
from ..domain.reports import read_match_report
from .export_folder import existing_export_names
from .memo import file_stamp

__all__ = ["ExportCoverage", "ReportCoverage", "export_coverage", "report_coverage"]


@dataclass(frozen=True)
class ReportCoverage:
    universe_rows: int
    matched_rows: int
    unmatched_rows: int
    missing: list[str]  # instruments in neither report (or fewer times than listed)
    extra: list[str]  # report rows with no instrument behind them

    @property
    def passed(self) -> bool:
        return not self.missing and not self.extra

    @property
    def unmatched_share(self) -> float:
        return self.unmatched_rows / self.universe_rows if self.universe_rows else 0.0


@dataclass(frozen=True)
class ExportCoverage:
    expected: int
    present: int
    missing: list[str]
    unexpected: list[str]

    @property
    def passed(self) -> bool:
        return not self.missing and not self.unexpected


def _describe(row: tuple[str, ...]) -> str:
    return f"{row[0]} ({row[2] or 'no market'}) from {row[-1]}"


_COVERAGE_CACHE: dict[tuple[tuple[Path, str], ...], ReportCoverage] = {}


def report_coverage(universe_path: Path, match_path: Path, unmatched_path: Path) -> ReportCoverage:
    """Every instrument row of the universe appears exactly once across both reports.

    Rows, not symbols, are counted: real lists repeat a symbol, even in one file.
    Two checks ask in the same run, so the answer is kept while the files are unchanged."""
    key = tuple((path, file_stamp(path)) for path in (universe_path, match_path, unmatched_path))
    if key not in _COVERAGE_CACHE:
        _COVERAGE_CACHE.clear()
        _COVERAGE_CACHE[key] = _report_coverage(universe_path, match_path, unmatched_path)
    return _COVERAGE_CACHE[key]


def _report_coverage(universe_path: Path, match_path: Path, unmatched_path: Path) -> ReportCoverage:
    universe = Counter(item.as_row() for item in read_universe(universe_path))
    matched = [(*row.cells[:5], row["source_file"]) for row in read_match_report(match_path)]
    unmatched = [
        tuple(row[c] for c in ("symbol", "isin", "market", "name", "currency", "source_file"))
        for row in read_csv_dicts(unmatched_path)
    ]
    reported = Counter(matched) + Counter(unmatched)
    missing = sorted(_describe(row) for row in (universe - reported).elements())
    extra = sorted(_describe(row) for row in (reported - universe).elements())
    return ReportCoverage(sum(universe.values()), len(matched), len(unmatched), missing, extra)


def export_coverage(match_path: Path, prices_dir: Path, include_empty: bool) -> ExportCoverage:
    """An export for every exportable matched ticker, and none for anything else."""
    expected = {item.file_name for item in plan_exports(read_match_report(match_path), include_empty)}
    present = existing_export_names(prices_dir)
    return ExportCoverage(len(expected), len(present), sorted(expected - present), sorted(present - expected))
