"""Fast reading of a Stooq price file for diagnostics and export, exact by construction.

Real Stooq files are regular: one `<TICKER>...` header, then comma-separated
rows with no spaces, quotes or blank lines. For such a "clean" body the export
is the body itself under the lower-case header, and diagnostics come from
pyarrow's CSV reader and vectorised checks (about ten times faster than a
Python loop over rows). Anything unusual falls back to the row-by-row reading
of `price_files` and `diagnostics`, which defines the rules; tests check that
both paths agree.

Rows appended to a file (the daily update) are read on their own: both rules
work line by line, so when the earlier bytes end with a line break, the export
of the whole file is the earlier export followed by the appended rows' export,
and its counts are the earlier counts extended (`RowCounts.extended_by`, which
says when that is not possible). Tests check both against reading the whole file.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .diagnostics import STOOQ_COLUMNS, Diagnostics, RowCounts, count_rows, diagnose
from .exports import EXPORT_HEADER, export_lines, render_export
from .price_files import LINE_BREAK, UnreadablePriceFile, data_lines, price_lines_from_bytes

__all__ = [
    "EXPORT_HEADER_LINE",
    "FileScan",
    "appended_bytes",
    "appended_export_rows",
    "clean_body",
    "diagnose_bytes",
    "export_from_bytes",
    "export_from_offset",
    "scan_appended",
    "scan_bytes",
]

EXPORT_HEADER_LINE = (EXPORT_HEADER + "\n").encode()
# Below this many appended lines the row-by-row count beats pyarrow's start-up.
_FAST_APPEND_LINES = 64

# Characters the row-by-row reading treats specially (strip, quotes); plain `in`
# scans are far faster than one regex with alternatives.
_UNUSUAL_CHARACTERS = ' \t\x0b\x0c\x1c\x1d\x1e\x1f"'
# A line after the first that is blank, starts with `<` or starts with `ticker` (any case):
# one regex pass costs a third of three separate searches.
_IRREGULAR_LINE = re.compile(r"\n(?:[\n<]|[tT][iI][cC][kK][eE][rR])")
_NUMBER = r"^[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)$"
_READ = pacsv.ReadOptions(column_names=list(STOOQ_COLUMNS), use_threads=False)
_PARSE = pacsv.ParseOptions(quote_char=False, double_quote=False, escape_char=False)
_CONVERT = pacsv.ConvertOptions(
    column_types={name: pa.string() for name in STOOQ_COLUMNS},
    include_columns=["date", "close", "volume"],
    strings_can_be_null=False,
)
# Arrow reads a number exactly where the rules' pattern does, in a clean body (no spaces,
# quotes or other odd characters), except that it also reads `nan` (any case and sign),
# which the rules call not a number: a column holding NaN is read again as text.
_CONVERT_NUMBERS = pacsv.ConvertOptions(
    column_types={"date": pa.string(), "close": pa.float64(), "volume": pa.float64()},
    include_columns=["date", "close", "volume"],
    strings_can_be_null=False,
    quoted_strings_can_be_null=False,
    null_values=[],
)
# Which MMDD (month * 100 + day) are real days in a year that is not a leap year.
_REAL_MONTH_DAYS = np.zeros(10000, dtype=bool)
for _month, _days in enumerate((31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31), start=1):
    _REAL_MONTH_DAYS[_month * 100 + 1 : _month * 100 + _days + 1] = True


def _decode(data: bytes) -> str:
    text = data.decode("utf-8")
    return text[1:] if text.startswith("\ufeff") else text


def clean_body(text: str) -> str | None:
    """The data rows of a regular file (`\\n`-separated), or None when it needs the exact path."""
    if text.startswith("<"):
        end_of_header = LINE_BREAK.search(text)
        text = "" if end_of_header is None else text[end_of_header.end() :]
    if "\r" in text:
        if text.count("\r") != text.count("\r\n"):
            return None
        text = text.replace("\r\n", "\n")
    if not text or not text.isascii() or text[0] in "\n<" or text[:6].lower() == "ticker":
        return None
    if any(character in text for character in _UNUSUAL_CHARACTERS) or _IRREGULAR_LINE.search(text):
        return None
    return text


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
    valid = eight & (values >= 10000) & _REAL_MONTH_DAYS[month_day]  # year 1 or later, a real day
    # 29 February only in leap years (rare enough to judge one by one).
    for row in np.flatnonzero(eight & (month_day == 229)):
        year = int(values[row]) // 10000
        valid[row] = year >= 1 and ((year % 4 == 0 and year % 100 != 0) or year % 400 == 0)
    return valid, values if valid.all() else values[valid]


def _numbers(column: pa.Array) -> tuple[int, np.ndarray]:
    """How many values are not numbers, and the numbers."""
    numeric = pc.match_substring_regex(column, _NUMBER)
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
    the header line followed by the bytes from there on (a regular file: no carriage
    returns, ending with a line break); None otherwise."""

    @property
    def rows_parsed(self) -> int:
        return 0 if self.counts is None else self.counts.rows + self.counts.invalid


def scan_bytes(data: bytes) -> FileScan:
    """The diagnostics of a whole file's bytes, and the counts behind them."""
    try:
        text = _decode(data)
    except UnicodeDecodeError as error:
        return FileScan(diagnose(UnreadablePriceFile(type(error).__name__)), None)
    body = clean_body(text)
    counts = _fast_counts(body) if body else None
    if counts is None:
        counts = count_rows(price_lines_from_bytes(data).lines)
    # ASCII body: characters are bytes, so the body is the file's last len(body) bytes.
    verbatim = body is not None and body.endswith("\n") and "\r" not in text
    return FileScan(counts.diagnostics(), counts, len(data) - len(body) if body and verbatim else None)


def diagnose_bytes(data: bytes) -> Diagnostics:
    return scan_bytes(data).diagnostics


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
    body = clean_body(text) if text.count("\n") > _FAST_APPEND_LINES else None
    counts = _fast_counts(body) if body else None
    if counts is None:
        counts = count_rows(data_lines(text), first_may_be_header=False)
    return earlier.extended_by(counts)


def _export_rows(text: str) -> str:
    """The export's lines for decoded text, each ending with a line break."""
    body = clean_body(text)
    if body:
        return body if body.endswith("\n") else body + "\n"
    kept = export_lines(data_lines(text))
    return "\n".join(kept) + "\n" if kept else ""


def export_from_bytes(data: bytes | None) -> str:
    """The export text; None or undecodable bytes give the header alone."""
    if data is None:
        return render_export(None)
    try:
        text = _decode(data)
    except UnicodeDecodeError:
        return render_export(None)
    return f"{EXPORT_HEADER}\n{_export_rows(text)}"


def appended_export_rows(appended: bytes) -> bytes | None:
    """What line-aligned `appended` bytes add to a file's export; None when undecodable."""
    try:
        return _export_rows(appended.decode("utf-8")).encode("utf-8")
    except UnicodeDecodeError:
        return None


def export_from_offset(data: bytes, offset: int) -> bytes:
    """The export of a file whose `FileScan.export_offset` is `offset`."""
    return EXPORT_HEADER_LINE + data[offset:]
