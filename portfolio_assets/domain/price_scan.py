"""Reading a Stooq price file's bytes into its diagnostics (SPEC 4) and its export (SPEC 2).

Real Stooq files are regular: one `<TICKER>...` header, then comma-separated
rows with no spaces, quotes or blank lines (`price_files.regular_rows`). For such
a body the export is the body itself under the lower-case header, and
diagnostics come from pyarrow's CSV reader and vectorised checks built from the
atoms of `diagnostics` (its number pattern, its calendar dates): about ten times
faster than a Python loop over rows. Anything unusual is read row by row
(`price_files.data_lines`, `diagnostics.count_rows`). Tests check both readings
against a plain reading of the rules over random bytes.

Rows appended to a file (the daily update) are read on their own: both rules
work line by line, so when the earlier bytes end with a line break, the export
of the whole file is the earlier export followed by the appended rows' export,
and its counts are the earlier counts extended (`RowCounts.extended_by`, which
says when that is not possible). Tests check both against reading the whole file.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .diagnostics import (
    NUMBER_PATTERN,
    STOOQ_COLUMNS,
    Diagnostics,
    RowCounts,
    calendar_date,
    count_rows,
    unread_diagnostics,
)
from .exports import render_export
from .price_files import UnreadablePriceFile, data_lines, decode_price_file, export_lines, regular_rows

__all__ = [
    "FileScan",
    "appended_bytes",
    "appended_export_rows",
    "export_from_bytes",
    "scan_appended",
    "scan_bytes",
]

# Below this many appended lines the row-by-row count beats pyarrow's start-up.
_FAST_APPEND_LINES = 64

_WHOLE_NUMBER = f"^(?:{NUMBER_PATTERN})$"
_READ = pacsv.ReadOptions(column_names=list(STOOQ_COLUMNS), use_threads=False)
_PARSE = pacsv.ParseOptions(quote_char=False, double_quote=False, escape_char=False)
_CONVERT = pacsv.ConvertOptions(
    column_types={name: pa.string() for name in STOOQ_COLUMNS},
    include_columns=["date", "close", "volume"],
    strings_can_be_null=False,
)
# In a regular body (no spaces, quotes or other odd characters) Arrow reads a number
# exactly where NUMBER_PATTERN does (tests check it value by value), except that it also
# reads `nan` (any case and sign), which the rules call not a number: a column holding
# NaN is read again as text and matched against NUMBER_PATTERN itself.
_CONVERT_NUMBERS = pacsv.ConvertOptions(
    column_types={"date": pa.string(), "close": pa.float64(), "volume": pa.float64()},
    include_columns=["date", "close", "volume"],
    strings_can_be_null=False,
    quoted_strings_can_be_null=False,
    null_values=[],
)
_LEAP_DAY = 229  # 29 February as MMDD


@cache
def _common_year_days() -> np.ndarray:
    """Which MMDD (month * 100 + day) name a real day in 2001, as `calendar_date` judges
    them. A date's year matters only in a leap year's 29 February and in year 0, which is
    no year: rows dated so are judged by `calendar_date` itself, one by one. (Made on first
    use: 12 ms that a process reading no price file should not pay at import.)"""
    return np.array([calendar_date(f"2001{month_day:04d}") is not None for month_day in range(10000)])


# pyarrow imports pandas (0.2 s) on the first `to_numpy()` or `pa.array()`, in every process
# that reads a price file; these views of arrow buffers (no nulls here: every column is
# read with nulls turned off) give numpy arrays without it.
def _values(array: pa.Array, dtype: type[np.generic]) -> np.ndarray:
    """The values of a fixed-width arrow array without nulls, as numpy (a copy)."""
    itemsize = np.dtype(dtype).itemsize
    return np.frombuffer(array.buffers()[1], dtype=dtype, count=len(array), offset=array.offset * itemsize).copy()


def _flags(array: pa.Array) -> np.ndarray:
    """A boolean arrow array without nulls as a numpy bool array."""
    bits = np.unpackbits(np.frombuffer(array.buffers()[1], dtype=np.uint8), bitorder="little")
    return bits[array.offset : array.offset + len(array)].astype(bool)


def _arrow_flags(flags: np.ndarray) -> pa.Array:
    return pa.Array.from_buffers(pa.bool_(), len(flags), [None, pa.py_buffer(np.packbits(flags, bitorder="little"))])


def _column(table: pa.Table, name: str) -> pa.Array:
    return table.column(name).combine_chunks()


def _valid_dates(dates: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Mask of rows whose date is a real YYYYMMDD date, and those dates as integers."""
    # A clean body is ASCII, so "8 characters, all decimal digits" is exactly [0-9]{8}.
    # (Comparing with an arrow scalar would import pandas too: the length test is numpy's.)
    eight = (_values(pc.binary_length(dates), np.int32) == 8) & _flags(pc.ascii_is_decimal(dates))
    values = np.zeros(len(dates), dtype=np.int64)
    if eight.all():
        values = _values(pc.cast(dates, pa.int64()), np.int64)
    elif eight.any():
        values[eight] = _values(pc.cast(dates.filter(_arrow_flags(eight)), pa.int64()), np.int64)
    month_day = values % 10000
    valid = eight & _common_year_days()[month_day]
    for row in np.flatnonzero(eight & ((month_day == _LEAP_DAY) | (values < 10000))):
        valid[row] = calendar_date(f"{values[row]:08d}") is not None
    return valid, values if valid.all() else values[valid]


def _numbers(column: pa.Array) -> tuple[int, np.ndarray]:
    """How many values are not numbers, and the numbers."""
    numeric = pc.match_substring_regex(column, _WHOLE_NUMBER)
    values = _values(pc.cast(column.filter(numeric), pa.float64()), np.float64)
    return len(column) - len(values), values


def _fast_counts(body: str) -> RowCounts | None:
    data = body.encode("ascii")
    try:
        table = pacsv.read_csv(io.BytesIO(data), _READ, _PARSE, _CONVERT_NUMBERS)
    except pa.ArrowInvalid:
        return _counts_from_text_columns(data)  # a value that is no number, or ragged rows
    closes = _values(_column(table, "close"), np.float64)
    volumes = _values(_column(table, "volume"), np.float64)
    if np.isnan(closes).any() or np.isnan(volumes).any():
        return _counts_from_text_columns(data)
    valid, values = _valid_dates(_column(table, "date"))
    if len(values) < len(valid):
        closes, volumes = closes[valid], volumes[valid]
    return _counts(len(valid), values, 0, closes, 0, volumes)


def _counts_from_text_columns(data: bytes) -> RowCounts | None:
    try:
        table = pacsv.read_csv(io.BytesIO(data), _READ, _PARSE, _CONVERT)
    except pa.ArrowInvalid:
        return None  # ragged rows: the exact path reads them
    valid, values = _valid_dates(_column(table, "date"))
    mask = _arrow_flags(valid)
    non_numeric, closes = _numbers(_column(table, "close").filter(mask))
    missing_volume, volumes = _numbers(_column(table, "volume").filter(mask))
    return _counts(len(valid), values, non_numeric, closes, missing_volume, volumes)


def _counts(
    lines: int, values: np.ndarray, non_numeric: int, closes: np.ndarray, missing_volume: int, volumes: np.ndarray
) -> RowCounts:
    """The counts from the valid rows' dates (as integers) and numeric closes and volumes."""
    rows = len(values)
    steps = np.diff(values)
    non_monotonic = bool((steps < 0).any())
    # In order, a repeated date sits next to its twin; out of order it may not.
    duplicates = bool((steps == 0).any()) if not non_monotonic else len(np.unique(values)) < rows
    return RowCounts(
        rows=rows,
        invalid=lines - rows,
        first=f"{values[0]:08d}" if rows else "",
        last=f"{values[-1]:08d}" if rows else "",
        non_numeric=non_numeric,
        non_positive=int((closes <= 0).sum()),
        missing_volume=missing_volume,
        zero_volume=int((volumes == 0).sum()),
        duplicates=duplicates,
        non_monotonic=non_monotonic,
    )


@dataclass(frozen=True, slots=True)
class FileScan:
    diagnostics: Diagnostics
    counts: RowCounts | None
    """None when the file could not be decoded: there is nothing to extend."""
    export_offset: int | None = None
    """Where the file's bytes start being its export's rows, when the export is exactly
    `exports.EXPORT_HEADER_LINE` followed by the bytes from there on (a regular file: no
    carriage returns, ending with a line break); None otherwise. price_exports then
    copies those bytes without reading them (`incremental/export_sync.py`)."""

    @property
    def rows_parsed(self) -> int:
        return 0 if self.counts is None else self.counts.rows + self.counts.invalid


def scan_bytes(data: bytes) -> FileScan:
    """The diagnostics of a whole file's bytes, and the counts behind them."""
    try:
        text = decode_price_file(data)
    except UnicodeDecodeError as error:
        return FileScan(unread_diagnostics(UnreadablePriceFile(type(error).__name__)), None)
    body = regular_rows(text)
    counts = _fast_counts(body) if body else None
    if counts is None:
        counts = count_rows(data_lines(text))
    # ASCII body: characters are bytes, so the body is the file's last len(body) bytes.
    verbatim = body is not None and body.endswith("\n") and "\r" not in text
    return FileScan(counts.diagnostics(), counts, len(data) - len(body) if body and verbatim else None)


def appended_bytes(data: bytes, earlier_size: int) -> bytes | None:
    """The bytes after the first `earlier_size`, when those end with a line break (the
    appended rows then start a line of their own); else None."""
    if earlier_size <= 0 or earlier_size > len(data) or data[earlier_size - 1] != 0x0A:
        return None
    return data[earlier_size:]


def scan_appended(earlier: RowCounts, appended: bytes) -> RowCounts | None:
    """The counts of a file whose earlier part had `earlier` counts and that then got the
    line-aligned bytes `appended`; None when only reading the whole file can tell."""
    try:
        text = appended.decode("utf-8")
    except UnicodeDecodeError:
        return None
    body = regular_rows(text) if text.count("\n") > _FAST_APPEND_LINES else None
    counts = _fast_counts(body) if body else None
    if counts is None:
        counts = count_rows(data_lines(text), first_may_be_header=False)
    return earlier.extended_by(counts)


def _export_rows(text: str) -> str:
    """The export's lines for decoded text, each ending with a line break."""
    body = regular_rows(text)
    if body:
        return body if body.endswith("\n") else body + "\n"
    kept = export_lines(data_lines(text))
    return "\n".join(kept) + "\n" if kept else ""


def export_from_bytes(data: bytes | None) -> str:
    """The export text; None or undecodable bytes give the header alone."""
    if data is None:
        return render_export()
    try:
        text = decode_price_file(data)
    except UnicodeDecodeError:
        return render_export()
    return render_export(_export_rows(text))


def appended_export_rows(appended: bytes) -> bytes | None:
    """What line-aligned `appended` bytes add to a file's export; None when undecodable."""
    try:
        return _export_rows(appended.decode("utf-8")).encode("utf-8")
    except UnicodeDecodeError:
        return None
