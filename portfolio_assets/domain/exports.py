"""One clean price file per matched ticker (SPEC 2, price exports): which files, and their text.

An export is the source's export lines (`price_files.export_lines`) under a
lower-case header; `price_scan` reads them from a file's bytes. The first match of
a ticker wins; files whose data_status says there is nothing usable are left out
unless include_empty. Planning and rendering only: listing the prices folder is
`incremental/export_folder.py`'s job, writing to it `incremental/export_sync.py`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

from .diagnostics import EMPTY, ERROR_PREFIX, MISSING_FILE
from .reports import MatchRow

__all__ = [
    "EXPORT_HEADER",
    "EXPORT_HEADER_LINE",
    "PlannedExport",
    "export_file_name",
    "is_exportable",
    "plan_exports",
    "render_export",
]

EXPORT_HEADER = "ticker,per,date,time,open,high,low,close,volume,openint"
EXPORT_HEADER_LINE = (EXPORT_HEADER + "\n").encode()


@dataclass(frozen=True, slots=True)
class PlannedExport:
    file_name: str
    ticker: str
    stooq_path: str
    data_status: str


def export_file_name(ticker: str) -> str:
    return f"{ticker.lower()}.csv"


def is_exportable(data_status: str, include_empty: bool) -> bool:
    unusable = data_status in (EMPTY, MISSING_FILE) or data_status.startswith(ERROR_PREFIX)
    return include_empty or not unusable


def plan_exports(matches: list[MatchRow], include_empty: bool) -> list[PlannedExport]:
    """The exports a match report calls for, first match of each ticker winning."""
    planned: dict[str, PlannedExport] = {}
    for row in matches:
        ticker = row["matched_ticker"]
        if ticker in planned:
            continue
        planned[ticker] = PlannedExport(export_file_name(ticker), ticker, row["stooq_path"], row["data_status"])
    return [item for item in planned.values() if is_exportable(item.data_status, include_empty)]


def render_export(rows: str = "") -> str:
    """The export text of its rows (each ending with a line break); none give the header alone."""
    return f"{EXPORT_HEADER}\n{rows}"
