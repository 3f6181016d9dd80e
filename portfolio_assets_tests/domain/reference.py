"""Plain readings of the rules, for tests: what the package's fast code is checked against.

- `reference_diagnostics` and `reference_export`: a Stooq price file read as SPEC 4
  and SPEC 2 word it, line by line and field by field, sharing no code with the
  package (not its line splitting, not its number pattern, not its calendar check,
  not its flags). Property tests compare `price_scan` with them over random bytes.
- `read_broker_folder` and `stooq_paths`: every broker list of a folder, and every
  counted Stooq file of a tree, read whole: the package reads them part by part
  (`incremental/`), tests use these to say what the whole reads as.
"""

from __future__ import annotations

import math
import re
from datetime import date
from pathlib import Path

from portfolio_assets.domain.broker_lists import Instrument, broker_list_paths, read_list_bytes
from portfolio_assets.domain.diagnostics import Diagnostics
from portfolio_assets.domain.stooq_tree import scan_stooq_tree

__all__ = [
    "EXPORT_HEADER_LINE_TEXT",
    "read_broker_folder",
    "reference_diagnostics",
    "reference_export",
    "stooq_paths",
]

EXPORT_HEADER_LINE_TEXT = "ticker,per,date,time,open,high,low,close,volume,openint\n"
COLUMN_NAMES = ["ticker", "per", "date", "time", "open", "high", "low", "close", "volume", "openint"]


def _decoded(data: bytes) -> str:
    """Strict UTF-8 with a leading BOM dropped; raises UnicodeDecodeError."""
    return data.decode("utf-8").removeprefix("\ufeff")


def _lines(text: str) -> list[str]:
    """The lines that carry data, stripped: not starting with `<`, not blank."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return [line.strip() for line in lines if not line.startswith("<") and line.strip()]


def _date(value: str) -> date | None:
    """The date of `YYYYMMDD`: eight ASCII digits that name a real day."""
    if re.fullmatch("[0-9]{8}", value) is None:
        return None
    try:
        return date.fromisoformat(f"{value[:4]}-{value[4:6]}-{value[6:]}")
    except ValueError:  # no such day, or year 0
        return None


def _number(value: str | None) -> float | None:
    """What pandas' to_numeric reads as a number: what Python's float reads, but NaN,
    digits with underscores, and anything not ASCII."""
    if value is None or not value.isascii() or "_" in value:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return None if math.isnan(number) else number


def _severity(ratio: float) -> str:
    for bound, name in ((0.5, "critical"), (0.1, "high"), (0.01, "moderate")):
        if ratio >= bound:
            return name
    return "low"


def reference_diagnostics(data: bytes) -> Diagnostics:
    """The SPEC 4 cells of a file's bytes."""
    try:
        text = _decoded(data)
    except UnicodeDecodeError:
        return Diagnostics("", "", 0, "error:UnicodeDecodeError", "")
    rows = [[field.strip() for field in line.split(",")] for line in _lines(text)]
    if rows and len(rows[0]) >= len(COLUMN_NAMES) and [f.lower() for f in rows[0][:10]] == COLUMN_NAMES:
        rows = rows[1:]
    valid = [row for row in rows if len(row) > 2 and _date(row[2]) is not None]
    if not valid:
        return Diagnostics("", "", 0, "empty", "")
    dates = [row[2] for row in valid]
    closes = [_number(row[7] if len(row) > 7 else None) for row in valid]
    volumes = [_number(row[8] if len(row) > 8 else None) for row in valid]
    counts = {
        "invalid_rows": len(rows) - len(valid),
        "non_numeric_prices": sum(close is None for close in closes),
        "non_positive_close": sum(close is not None and close <= 0 for close in closes),
        "missing_volume": sum(volume is None for volume in volumes),
        "zero_volume": sum(volume == 0 for volume in volumes),
    }
    flags = [f"{name}={count}" for name, count in counts.items() if count]
    if counts["zero_volume"]:
        ratio = counts["zero_volume"] / len(valid)
        flags += [f"zero_volume_ratio={ratio:.4f}", f"zero_volume_severity={_severity(ratio)}"]
    if len(set(dates)) < len(dates):
        flags.append("duplicate_dates")
    if dates != sorted(dates):
        flags.append("non_monotonic_dates")
    status = "sparse" if len(valid) == 1 else "warning" if flags else "ok"
    start, end = (str(_date(value)) for value in (dates[0], dates[-1]))
    return Diagnostics(start, end, len(valid), status, ";".join(flags))


def reference_export(data: bytes | None) -> str:
    """The SPEC 2 export text of a file's bytes (None: a missing file)."""
    try:
        text = "" if data is None else _decoded(data)
    except UnicodeDecodeError:
        text = ""
    kept = [line for line in _lines(text) if not line.lower().startswith("ticker")]
    return EXPORT_HEADER_LINE_TEXT + "".join(line + "\n" for line in kept)


def read_broker_folder(folder: Path) -> list[Instrument]:
    """All instruments of all lists, file by file in name order, row by row."""
    return [item for path in broker_list_paths(folder) for item in read_list_bytes(path, path.read_bytes()).instruments]


def stooq_paths(root: Path) -> list[str]:
    """The relative paths of every counted file of a Stooq tree, sorted."""
    return [found.relative_path for found in scan_stooq_tree(root)]
