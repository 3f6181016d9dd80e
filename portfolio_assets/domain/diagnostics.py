"""The data-quality summary of one matched Stooq file (SPEC 4), and its atoms.

The atoms are written here once: a valid date (`calendar_date`: exactly eight ASCII
digits forming a real calendar date) and a number (`NUMBER_PATTERN`, after pandas'
`to_numeric` reading, as the reference tool does: ASCII decimal or scientific notation
and `inf`/`infinity` are numbers; `nan`, `1_000`, `1,5`, hex and empty cells are not).
`count_rows` applies them row by row; the vectorised reading of `price_scan` is built
from the same atoms.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from .price_files import MissingPriceFile, UnreadablePriceFile

__all__ = [
    "EMPTY",
    "ERROR_PREFIX",
    "MISSING_FILE",
    "NUMBER_PATTERN",
    "STOOQ_COLUMNS",
    "Diagnostics",
    "RowCounts",
    "calendar_date",
    "count_rows",
    "iso_date",
    "parse_number",
    "read_failure",
    "summarise_counts",
    "unread_diagnostics",
]

# The data_status words other rules read: the file is gone, has no valid row, could not be read.
MISSING_FILE, EMPTY, ERROR_PREFIX = "missing_file", "empty", "error:"

STOOQ_COLUMNS = ("ticker", "per", "date", "time", "open", "high", "low", "close", "volume", "openint")
_DATE, _CLOSE, _VOLUME = 2, 7, 8

# A whole value that is a number. Written for both regular expression engines that read
# it: Python's `re` row by row, and RE2 in pyarrow's vectorised match (`price_scan`), so
# no flags, no `\d` and no character class whose meaning differs between them.
NUMBER_PATTERN = r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)"
_NUMBER = re.compile(NUMBER_PATTERN)


# The names an OSError raised by opening or reading a file can carry (PermissionError,
# IsADirectoryError, TimeoutError, ...).
_READ_ERRORS = frozenset(
    value.__name__ for value in vars(builtins).values() if isinstance(value, type) and issubclass(value, OSError)
)


def read_failure(data_status: str) -> str | None:
    """The error's name when `data_status` says the file could not be read (an OSError: a
    permission, a folder in its place, an I/O error), which the next read may not meet
    again; None for any other status. `error:UnicodeDecodeError` depends on the bytes
    alone, so it is not a read failure."""
    name = data_status.removeprefix(ERROR_PREFIX)
    return name if name != data_status and name in _READ_ERRORS else None


@dataclass(frozen=True, slots=True)
class Diagnostics:
    price_start: str
    price_end: str
    price_rows: int
    data_status: str
    data_flags: str

    def cells(self) -> tuple[str, str, str, str, str]:
        """The report cells price_start, price_end, price_rows, data_status, data_flags."""
        return (self.price_start, self.price_end, str(self.price_rows), self.data_status, self.data_flags)


def calendar_date(value: str) -> date | None:
    """The date a `YYYYMMDD` value names (eight ASCII digits, a real day), else None."""
    if len(value) != 8 or not (value.isascii() and value.isdigit()):
        return None
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return None


@lru_cache(maxsize=65536)
def iso_date(value: str) -> str | None:
    """`YYYY-MM-DD` for a valid `YYYYMMDD` value, else None."""
    day = calendar_date(value)
    return None if day is None else day.isoformat()


def parse_number(value: str) -> float | None:
    """The number a value reads as (`NUMBER_PATTERN`), else None."""
    return float(value) if _NUMBER.fullmatch(value) else None


def _severity(ratio: float) -> str:
    if ratio >= 0.5:
        return "critical"
    if ratio >= 0.1:
        return "high"
    if ratio >= 0.01:
        return "moderate"
    return "low"


def _is_header(fields: list[str]) -> bool:
    return len(fields) >= len(STOOQ_COLUMNS) and all(
        field.lower() == name for field, name in zip(fields, STOOQ_COLUMNS, strict=False)
    )


@dataclass(frozen=True, slots=True)
class RowCounts:
    """What diagnostics count over a file's rows (`first`/`last` as YYYYMMDD): enough to
    summarise it, and to extend the summary when rows are appended."""

    rows: int
    invalid: int
    first: str
    last: str
    non_numeric: int
    non_positive: int
    missing_volume: int
    zero_volume: int
    duplicates: bool
    non_monotonic: bool

    def diagnostics(self) -> Diagnostics:
        return summarise_counts(
            rows=self.rows,
            invalid=self.invalid,
            first=self.first,
            last=self.last,
            non_numeric=self.non_numeric,
            non_positive=self.non_positive,
            missing_volume=self.missing_volume,
            zero_volume=self.zero_volume,
            duplicates=self.duplicates,
            non_monotonic=self.non_monotonic,
        )

    def extended_by(self, appended: RowCounts) -> RowCounts | None:
        """The counts of this file's rows followed by `appended` (counted with no header
        row allowed), or None when they cannot be known without the earlier dates.

        Known only when every new date is later than every earlier one: this file has
        rows, its dates never went back (so `last` is its latest), and the new ones
        start after `last` and never go back either. Then no new date repeats an old
        one and the order holds across the join."""
        if self.rows == 0 or self.non_monotonic or appended.non_monotonic:
            return None
        if appended.rows and appended.first <= self.last:
            return None
        return RowCounts(
            rows=self.rows + appended.rows,
            invalid=self.invalid + appended.invalid,
            first=self.first,
            last=appended.last if appended.rows else self.last,
            non_numeric=self.non_numeric + appended.non_numeric,
            non_positive=self.non_positive + appended.non_positive,
            missing_volume=self.missing_volume + appended.missing_volume,
            zero_volume=self.zero_volume + appended.zero_volume,
            duplicates=self.duplicates or appended.duplicates,
            non_monotonic=False,
        )


def unread_diagnostics(source: MissingPriceFile | UnreadablePriceFile) -> Diagnostics:
    """The diagnostics of a file that is gone, or could not be read or decoded."""
    if isinstance(source, MissingPriceFile):
        return Diagnostics("", "", 0, MISSING_FILE, "")
    return Diagnostics("", "", 0, f"{ERROR_PREFIX}{source.error_name}", "")


def count_rows(lines: Iterable[str], first_may_be_header: bool = True) -> RowCounts:
    """The counts over a file's data lines (`price_files.data_lines`), row by row: how
    `price_scan` reads what its vectorised reading cannot take (irregular lines, a few
    appended rows).

    `first_may_be_header` is False for lines appended to a file that already has rows."""
    invalid = non_numeric = non_positive = missing_volume = zero_volume = 0
    first = last = previous = ""
    seen: set[str] = set()
    duplicates = non_monotonic = False
    rows = 0
    for number, line in enumerate(lines):
        fields = [field.strip() for field in line.split(",")]
        if number == 0 and first_may_be_header and _is_header(fields):
            continue
        raw_date = fields[_DATE] if len(fields) > _DATE else ""
        if iso_date(raw_date) is None:
            invalid += 1
            continue
        rows += 1
        if not first:
            first = raw_date
        last = raw_date
        if raw_date in seen:
            duplicates = True
        else:
            seen.add(raw_date)
        if raw_date < previous:
            non_monotonic = True
        previous = raw_date
        close = parse_number(fields[_CLOSE]) if len(fields) > _CLOSE else None
        if close is None:
            non_numeric += 1
        elif close <= 0:
            non_positive += 1
        volume = parse_number(fields[_VOLUME]) if len(fields) > _VOLUME else None
        if volume is None:
            missing_volume += 1
        elif volume == 0:
            zero_volume += 1
    return RowCounts(
        rows=rows,
        invalid=invalid,
        first=first,
        last=last,
        non_numeric=non_numeric,
        non_positive=non_positive,
        missing_volume=missing_volume,
        zero_volume=zero_volume,
        duplicates=duplicates,
        non_monotonic=non_monotonic,
    )


def summarise_counts(
    *,
    rows: int,
    invalid: int,
    first: str,
    last: str,
    non_numeric: int,
    non_positive: int,
    missing_volume: int,
    zero_volume: int,
    duplicates: bool,
    non_monotonic: bool,
) -> Diagnostics:
    """data_status and data_flags from the counts over a file's rows (`first`/`last` as YYYYMMDD)."""
    if rows == 0:
        return Diagnostics("", "", 0, EMPTY, "")
    flags = [
        f"{name}={count}"
        for name, count in (
            ("invalid_rows", invalid),
            ("non_numeric_prices", non_numeric),
            ("non_positive_close", non_positive),
            ("missing_volume", missing_volume),
            ("zero_volume", zero_volume),
        )
        if count
    ]
    if zero_volume:
        ratio = zero_volume / rows
        flags += [f"zero_volume_ratio={ratio:.4f}", f"zero_volume_severity={_severity(ratio)}"]
    if duplicates:
        flags.append("duplicate_dates")
    if non_monotonic:
        flags.append("non_monotonic_dates")
    status = "sparse" if rows == 1 else "warning" if flags else "ok"
    return Diagnostics(iso_date(first) or "", iso_date(last) or "", rows, status, ";".join(flags))
