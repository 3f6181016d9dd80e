"""Each broker list's rows in the two reports, and what they were made from, so that
match_report makes again only the rows whose inputs changed.

Both reports follow the universe's order, so each is its header line followed by one
part per broker list: the matched rows of that list in the match report, its unmatched
rows in the unmatched report. `report_parts.json` (beside the reports) records, for the
reports on disk it describes (the hash of each), the index (its hash) and the
lse_currency_policy they were made with:

- for each list, in order: the hash and length of its rows in the universe they were
  made from; where its part is in each report (bytes, rows) and the part's hash; its matched files in the
  order they first appear, and the first file of each ticker (what price_exports plans
  from); the newest price_end of each region over its matched rows; and the counts the
  UI shows (strategy, data_status, currency_status, unmatched reason);
- for each matched file, its diagnostics cells as the rows show them.

A part can be kept only while all of that still holds: the same universe rows (or the
same followed by new ones: a list that grew), the same diagnostics of its files, the
same index and policy, and the reports on disk hashing to what the record names.
`steps/match_report_parts.py` decides, list by list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..domain.diagnostics import Diagnostics
from ..domain.reports import render_match_report, render_unmatched_report
from .json_cache import load_json_cache, save_json_cache
from .universe_parts import content_hash

__all__ = [
    "COUNTED_COLUMNS",
    "MATCH_HEADER",
    "UNMATCHED_HEADER",
    "ReportPart",
    "ReportParts",
    "diagnostics_cells",
    "load_report_parts",
    "save_report_parts",
]

KIND = "report_parts"
MATCH_HEADER = render_match_report([]).encode("utf-8")
UNMATCHED_HEADER = render_unmatched_report([]).encode("utf-8")
# The counts of each part: three columns of its matched rows, the reason of its unmatched rows.
COUNTED_COLUMNS = ("strategy", "data_status", "currency_status", "reason")


def diagnostics_cells(diagnostics: Diagnostics) -> str:
    """A matched file's diagnostics as its report rows show them, in one string."""
    return "\x1f".join(
        (
            diagnostics.price_start,
            diagnostics.price_end,
            str(diagnostics.price_rows),
            diagnostics.data_status,
            diagnostics.data_flags,
        )
    )


@dataclass(frozen=True)
class ReportPart:
    """One broker list's rows in the reports."""

    name: str
    universe_hash: str
    """The hash and length of the list's universe rows the part was made from."""
    universe_length: int
    match_range: tuple[int, int, int]
    """(start, length in bytes, rows) of its part of the match report."""
    unmatched_range: tuple[int, int, int]
    match_hash: str
    """The hash of its part of each report."""
    unmatched_hash: str
    files: tuple[str, ...]
    """Its matched files, in the order they first appear."""
    tickers: tuple[tuple[str, str], ...]
    """(matched_ticker, stooq_path) of the first row of each ticker, in order."""
    newest: Mapping[str, str]
    """The newest price_end of each region over its matched rows."""
    counts: Mapping[str, Mapping[str, int]]
    """For each of COUNTED_COLUMNS, how many rows have each value."""

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "universe": [self.universe_hash, self.universe_length],
            "match": [*self.match_range, self.match_hash],
            "unmatched": [*self.unmatched_range, self.unmatched_hash],
            "files": list(self.files),
            "tickers": [list(pair) for pair in self.tickers],
            "newest": dict(self.newest),
            "counts": {column: dict(values) for column, values in self.counts.items()},
        }

    @classmethod
    def from_json(cls, value: Any) -> ReportPart:
        universe_hash, universe_length = value["universe"]
        *match_range, match_hash = value["match"]
        *unmatched_range, unmatched_hash = value["unmatched"]
        if len(match_range) != 3 or len(unmatched_range) != 3:
            raise ValueError("a part's range is not (start, length, rows)")
        first, second = (tuple(int(number) for number in numbers) for numbers in (match_range, unmatched_range))
        part = cls(
            str(value["name"]),
            str(universe_hash),
            int(universe_length),
            (first[0], first[1], first[2]),
            (second[0], second[1], second[2]),
            str(match_hash),
            str(unmatched_hash),
            tuple(str(path) for path in value["files"]),
            tuple((str(ticker), str(path)) for ticker, path in value["tickers"]),
            {str(region): str(end) for region, end in value["newest"].items()},
            {
                column: {str(key): int(count) for key, count in value["counts"][column].items()}
                for column in COUNTED_COLUMNS
            },
        )
        return part


@dataclass(frozen=True)
class ReportParts:
    """The parts of the reports whose bytes hash to `match_hash` and `unmatched_hash`."""

    index_hash: str
    policy: str
    match_hash: str
    unmatched_hash: str
    diagnostics: Mapping[str, str] = field(default_factory=dict)
    """`diagnostics_cells` of each matched file, as the rows show them."""
    parts: list[ReportPart] = field(default_factory=list)

    def by_name(self) -> dict[str, ReportPart]:
        return {part.name: part for part in self.parts}


def _covers(parts: list[ReportPart], header: bytes, data: bytes, which: str) -> bool:
    """Whether the parts' ranges of one report follow each other from its header to its end."""
    end = len(header)
    for part in parts:
        start, length, _ = part.match_range if which == "match" else part.unmatched_range
        if start != end:
            return False
        end += length
    return end == len(data) and data.startswith(header)


def load_report_parts(
    path: Path, version: str, match_report: bytes, unmatched_report: bytes
) -> tuple[ReportParts | None, str | None]:
    """The recorded parts of these reports (their bytes); None when nothing is recorded for
    exactly those bytes; and a warning when the record is damaged. Which index and policy
    they were made with is for the caller to compare."""
    loaded = load_json_cache(path, KIND, version)
    if not loaded.entries:
        return None, loaded.warning
    entries = loaded.entries
    try:
        recorded = ReportParts(
            str(entries["index_hash"]),
            str(entries["policy"]),
            str(entries["match_hash"]),
            str(entries["unmatched_hash"]),
            {str(file): str(cells) for file, cells in entries["diagnostics"].items()},
            [ReportPart.from_json(value) for value in entries["parts"]],
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        return None, f"{path} is not a record of the reports' parts; discarding it and rebuilding"
    return _matching(recorded, match_report, unmatched_report), None


def _matching(recorded: ReportParts, match_report: bytes, unmatched_report: bytes) -> ReportParts | None:
    if (recorded.match_hash, recorded.unmatched_hash) != (content_hash(match_report), content_hash(unmatched_report)):
        return None
    names = [part.name for part in recorded.parts]
    if len(set(names)) != len(names):
        return None
    if not _covers(recorded.parts, MATCH_HEADER, match_report, "match"):
        return None
    return recorded if _covers(recorded.parts, UNMATCHED_HEADER, unmatched_report, "unmatched") else None


def save_report_parts(path: Path, version: str, parts: ReportParts) -> None:
    entries = {
        "index_hash": parts.index_hash,
        "policy": parts.policy,
        "match_hash": parts.match_hash,
        "unmatched_hash": parts.unmatched_hash,
        "diagnostics": dict(parts.diagnostics),
        "parts": [part.as_json() for part in parts.parts],
    }
    save_json_cache(path, KIND, version, entries)
