"""The match and unmatched reports: one row per instrument, in input order (SPEC 2)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .broker_lists import INSTRUMENT_COLUMNS, Instrument
from .csv_files import file_identity, read_csv_rows, render_csv, render_csv_rows
from .currency import resolve_currency
from .diagnostics import Diagnostics
from .matching import Match, Unmatched

__all__ = [
    "MATCH_COLUMNS",
    "UNMATCHED_COLUMNS",
    "MatchRow",
    "Reports",
    "build_reports",
    "read_match_report",
    "read_match_rows",
    "read_unmatched_report",
    "read_unmatched_rows",
    "render_match_report",
    "render_match_rows",
    "render_unmatched_report",
    "render_unmatched_rows",
    "with_diagnostics",
]

MATCH_COLUMNS = (
    *INSTRUMENT_COLUMNS,
    "matched_ticker",
    "stooq_path",
    "region",
    "category",
    "strategy",
    "source_file",
    "price_start",
    "price_end",
    "price_rows",
    "inferred_currency",
    "resolved_currency",
    "currency_status",
    "data_status",
    "data_flags",
)
UNMATCHED_COLUMNS = (*INSTRUMENT_COLUMNS, "source_file", "reason")


@dataclass(frozen=True, slots=True)
class MatchRow:
    """One row of the match report; values are report cells."""

    cells: tuple[str, ...]

    def __getitem__(self, column: str) -> str:
        return self.cells[MATCH_COLUMNS.index(column)]


@dataclass(frozen=True, slots=True)
class Reports:
    matches: list[MatchRow]
    unmatched: list[tuple[str, ...]]


def build_reports(
    instruments: list[Instrument],
    outcomes: list[Match | Unmatched],
    diagnostics: Mapping[str, Diagnostics] | Callable[[str], Diagnostics],
    lse_currency_policy: str,
) -> Reports:
    """Rows of both reports; `diagnostics` gives the summary of a matched relative path."""
    diagnose = diagnostics if callable(diagnostics) else diagnostics.__getitem__
    matches: list[MatchRow] = []
    unmatched: list[tuple[str, ...]] = []
    for instrument, outcome in zip(instruments, outcomes, strict=True):
        broker_cells = instrument.as_row()[: len(INSTRUMENT_COLUMNS)]
        if isinstance(outcome, Unmatched):
            unmatched.append((*broker_cells, instrument.source_file, outcome.reason))
            continue
        entry = outcome.entry
        start, end, rows, status, flags = diagnose(entry.relative_path).cells()
        currency = resolve_currency(
            entry.region, instrument.market, instrument.symbol, instrument.currency, lse_currency_policy
        )
        matches.append(
            MatchRow(
                (
                    *broker_cells,
                    entry.ticker.upper(),
                    entry.relative_path,
                    entry.region,
                    entry.category,
                    outcome.strategy,
                    instrument.source_file,
                    start,
                    end,
                    rows,
                    currency.inferred,
                    currency.resolved,
                    currency.status,
                    status,
                    flags,
                )
            )
        )
    return Reports(matches, unmatched)


def render_match_report(rows: list[MatchRow]) -> str:
    return render_csv(MATCH_COLUMNS, (row.cells for row in rows))


def render_unmatched_report(rows: list[tuple[str, ...]]) -> str:
    return render_csv(UNMATCHED_COLUMNS, rows)


_READ_CACHE: dict[Path, tuple[tuple[int, int, int, int], list[MatchRow]]] = {}


def read_match_report(path: Path) -> list[MatchRow]:
    """The rows of a match report. Staleness checks read it several times per refresh,
    so the last read of each path is kept while its identity (`file_identity`) stays the same."""
    stat = path.stat()
    stamp = file_identity(stat)
    cached = _READ_CACHE.get(path)
    if cached is not None and cached[0] == stamp:
        return list(cached[1])
    rows = [MatchRow(cells) for cells in _read_report(path, MATCH_COLUMNS, "match report")]
    _READ_CACHE[path] = (stamp, rows)
    return list(rows)


def read_unmatched_report(path: Path) -> list[tuple[str, ...]]:
    """The rows of an unmatched report, each as its cells."""
    return _read_report(path, UNMATCHED_COLUMNS, "unmatched report")


def _read_report(path: Path, columns: tuple[str, ...], what: str) -> list[tuple[str, ...]]:
    """The rows of a report file with this header; ValueError naming the file otherwise."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None or tuple(header) != columns:
                raise ValueError("unexpected header")
            rows = [tuple(row) for row in reader]
    except (UnicodeDecodeError, csv.Error, ValueError) as error:
        raise ValueError(f"{path} is not a readable {what} ({error})") from None
    short = next((number for number, row in enumerate(rows, 2) if len(row) != len(columns)), None)
    if short is not None:
        raise ValueError(f"{path} is not a readable {what} (line {short} has the wrong number of cells)")
    return rows


# The cells of a match row that come from its file's diagnostics.
_DIAGNOSTICS_CELLS = tuple(
    MATCH_COLUMNS.index(name) for name in ("price_start", "price_end", "price_rows", "data_status", "data_flags")
)


def with_diagnostics(row: MatchRow, diagnostics: Diagnostics) -> MatchRow:
    """`row` with its file's diagnostics replaced by `diagnostics` (the rest of a row does
    not depend on them)."""
    cells = list(row.cells)
    for position, value in zip(_DIAGNOSTICS_CELLS, diagnostics.cells(), strict=True):
        cells[position] = value
    return MatchRow(tuple(cells))


def render_match_rows(rows: list[MatchRow]) -> str:
    """Match report rows without the header line."""
    return render_csv_rows(row.cells for row in rows)


def render_unmatched_rows(rows: list[tuple[str, ...]]) -> str:
    """Unmatched report rows without the header line."""
    return render_csv_rows(rows)


def _rows_of(text: str, width: int, what: str) -> list[tuple[str, ...]]:
    rows = [tuple(row) for row in read_csv_rows(text)]
    wrong = next((number for number, row in enumerate(rows, 1) if len(row) != width), None)
    if wrong is not None:
        raise ValueError(f"row {wrong} of these {what} rows has {len(rows[wrong - 1])} cells, not {width}")
    return rows


def read_match_rows(text: str) -> list[MatchRow]:
    """Match report rows as `render_match_rows` wrote them."""
    return [MatchRow(cells) for cells in _rows_of(text, len(MATCH_COLUMNS), "match report")]


def read_unmatched_rows(text: str) -> list[tuple[str, ...]]:
    """Unmatched report rows as `render_unmatched_rows` wrote them."""
    return _rows_of(text, len(UNMATCHED_COLUMNS), "unmatched report")
