"""Consistency rules over the outputs, as the asset checks report them.

Every instrument row of the universe is in the reports exactly once: checked list by
list where the steps recorded each list's rows in the universe and the reports
(`universe_parts.py`, `report_parts.py`, trusted only for the files whose bytes they
hash to). What this check found consistent is kept (`coverage_checked.json`: each
list's parts by hash, length and rows), so a list whose parts did not change is not
read again, and a list that grew is checked on its new rows alone (its earlier rows
were found consistent, and parts are whole rows). A list found inconsistent, or no
usable record, checks the whole files as one, which says what is missing or extra.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path

from ..domain.broker_lists import read_universe
from ..domain.csv_files import read_csv_dicts, read_csv_rows
from ..domain.exports import plan_exports
from ..domain.reports import MATCH_COLUMNS, read_match_report
from .export_folder import existing_export_names
from .json_cache import load_json_cache, save_json_cache
from .memo import file_stamp
from .report_parts import load_report_parts
from .universe_parts import content_hash, load_universe_parts

__all__ = ["ExportCoverage", "PartRecords", "ReportCoverage", "export_coverage", "report_coverage"]


@dataclass(frozen=True)
class ReportCoverage:
    universe_rows: int
    matched_rows: int
    unmatched_rows: int
    missing: list[str]  # instruments in neither report (or fewer times than listed)
    extra: list[str]  # report rows with no instrument behind them
    rows_read: int = 0
    """Rows of the three files read to judge: all of them, or those of the lists that changed."""

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


@dataclass(frozen=True)
class PartRecords:
    """Where the steps record each list's rows in the universe and the reports (with the
    versions of those records), and where this check keeps what it found consistent."""

    universe_parts: Path
    universe_parts_version: str
    report_parts: Path
    report_parts_version: str
    checked: Path


_COVERAGE_CACHE: dict[tuple[tuple[Path, str], ...], ReportCoverage] = {}


def report_coverage(
    universe_path: Path, match_path: Path, unmatched_path: Path, records: PartRecords | None = None
) -> ReportCoverage:
    """Every instrument row of the universe appears exactly once across both reports.

    Rows, not symbols, are counted: real lists repeat a symbol, even in one file.
    Two checks ask in the same run, so the answer is kept while the files are unchanged."""
    key = tuple((path, file_stamp(path)) for path in (universe_path, match_path, unmatched_path))
    if key not in _COVERAGE_CACHE:
        _COVERAGE_CACHE.clear()
        found = None if records is None else _coverage_by_list(universe_path, match_path, unmatched_path, records)
        _COVERAGE_CACHE[key] = found or _report_coverage(universe_path, match_path, unmatched_path)
    return _COVERAGE_CACHE[key]


_CHECKED = "coverage_checked"
_CHECKED_VERSION = "1"
# A report row's instrument: the broker cells and source_file.
_MATCHED_INSTRUMENT = itemgetter(0, 1, 2, 3, 4, MATCH_COLUMNS.index("source_file"))
_UNMATCHED_INSTRUMENT = itemgetter(0, 1, 2, 3, 4, 5)


def _rows(data: bytes, width: int) -> list[list[str]] | None:
    rows = read_csv_rows(data.decode("utf-8"))
    return rows if all(len(row) == width for row in rows) else None


def _consistent(universe: bytes, matched: bytes, unmatched: bytes) -> tuple[int, int, int] | None:
    """The rows of one list's parts (or of their new rows) when the universe's rows are
    exactly the reports' instruments; None when not."""
    rows = _rows(universe, 6), _rows(matched, len(MATCH_COLUMNS)), _rows(unmatched, 7)
    if rows[0] is None or rows[1] is None or rows[2] is None:
        return None
    reported = Counter(map(_MATCHED_INSTRUMENT, rows[1]))
    reported.update(map(_UNMATCHED_INSTRUMENT, rows[2]))
    if Counter(map(tuple, rows[0])) != reported:
        return None
    return len(rows[0]), len(rows[1]), len(rows[2])


def _checked_entry(value: object) -> tuple[list[str], list[int], list[int]] | None:
    """(hashes, lengths, rows) of the three parts of a list this check found consistent."""
    if not isinstance(value, list) or len(value) != 9:
        return None
    hashes, numbers = value[0::3], value[1::3] + value[2::3]
    if not all(isinstance(item, str) for item in hashes) or not all(isinstance(n, int) for n in numbers):
        return None
    return hashes, value[1::3], value[2::3]


def _list_consistent(
    parts: tuple[bytes, bytes, bytes], hashes: list[str], checked: object
) -> tuple[tuple[int, int, int], int] | None:
    """The rows of one list's three parts when they are consistent, and how many were read:
    none when they are the parts found consistent before, only their new rows when each
    part is those parts followed by more, else all."""
    known = _checked_entry(checked)
    if known is not None:
        known_hashes, lengths, rows = known
        if known_hashes == hashes and lengths == [len(part) for part in parts]:
            return (rows[0], rows[1], rows[2]), 0
        grown = all(
            length <= len(part) and content_hash(memoryview(part)[:length]) == known_hash
            for part, length, known_hash in zip(parts, lengths, known_hashes, strict=True)
        )
        if grown:
            tails = _consistent(*(part[length:] for part, length in zip(parts, lengths, strict=True)))
            if tails is None:
                return None
            return (rows[0] + tails[0], rows[1] + tails[1], rows[2] + tails[2]), sum(tails)
    whole = _consistent(*parts)
    return None if whole is None else (whole, sum(whole))


def _coverage_by_list(
    universe_path: Path, match_path: Path, unmatched_path: Path, records: PartRecords
) -> ReportCoverage | None:
    """The coverage found list by list; None when the records do not describe these files
    or a list is inconsistent (the whole files then say what is missing or extra)."""
    try:
        universe, matched, unmatched = (path.read_bytes() for path in (universe_path, match_path, unmatched_path))
    except OSError:
        return None
    universe_parts, _ = load_universe_parts(records.universe_parts, records.universe_parts_version, universe)
    report_parts, _ = load_report_parts(records.report_parts, records.report_parts_version, matched, unmatched)
    if universe_parts is None or report_parts is None:
        return None
    if [part.name for part in universe_parts.parts] != [part.name for part in report_parts.parts]:
        return None
    checked = load_json_cache(records.checked, _CHECKED, _CHECKED_VERSION).entries
    found: dict[str, list[object]] = {}
    totals, read = [0, 0, 0], 0
    for in_universe, in_reports in zip(universe_parts.parts, report_parts.parts, strict=True):
        spans = (
            (universe, in_universe.start, in_universe.length),
            (matched, *in_reports.match_range[:2]),
            (unmatched, *in_reports.unmatched_range[:2]),
        )
        parts = tuple(data[start : start + length] for data, start, length in spans)
        hashes = [in_universe.rows_hash, in_reports.match_hash, in_reports.unmatched_hash]
        judged = _list_consistent((parts[0], parts[1], parts[2]), hashes, checked.get(in_universe.name))
        if judged is None:
            return None
        rows, rows_read = judged
        read += rows_read
        found[in_universe.name] = [
            value for triple in zip(hashes, map(len, parts), rows, strict=True) for value in triple
        ]
        totals = [total + count for total, count in zip(totals, rows, strict=True)]
    if found != checked:
        save_json_cache(records.checked, _CHECKED, _CHECKED_VERSION, found)
    return ReportCoverage(totals[0], totals[1], totals[2], [], [], read)


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
    total = sum(universe.values())
    return ReportCoverage(total, len(matched), len(unmatched), missing, extra, total + len(matched) + len(unmatched))


def export_coverage(match_path: Path, prices_dir: Path, include_empty: bool) -> ExportCoverage:
    """An export for every exportable matched ticker, and none for anything else."""
    expected = {item.file_name for item in plan_exports(read_match_report(match_path), include_empty)}
    present = existing_export_names(prices_dir)
    return ExportCoverage(len(expected), len(present), sorted(expected - present), sorted(present - expected))
