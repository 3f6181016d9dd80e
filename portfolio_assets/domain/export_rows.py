"""An export's rows as typed columns (the price store's reading of SPEC 2's exports).

A row is read as SPEC 4 reads a price file's row: comma-separated fields, no quoting,
every field stripped, a row too short to have a field has it empty, fields beyond the
tenth are ignored. The first field (the source's own ticker text) is not kept: a row's
ticker is its export's. `date` is a date when it is a valid date by SPEC 4 (eight ASCII
digits naming a real day), else null; the five prices and volume and openint are
float64 when they are numbers by SPEC 4, else null (`nan` is not a number). `per` and
`time` are kept as text. `line` is the row's position in its export (1 for the first
row under the header), so that the order of a ticker's rows, and with it "a repeated
date: its last row", survives any storage order.

The rows of many exports are parsed in one pass of pyarrow's CSV reader over their
bytes put end to end; rows it cannot split as ten fields, or bytes whose line count it
does not reproduce, are read line by line instead (rare: a malformed source line).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from .diagnostics import NUMBER_PATTERN
from .exports import EXPORT_HEADER

__all__ = ["NUMBER_FIELDS", "ROW_SCHEMA", "TEXT_FIELDS", "ExportChunk", "export_rows"]

_FIELDS = tuple(EXPORT_HEADER.split(","))
TEXT_FIELDS = ("per", "time")
NUMBER_FIELDS = ("open", "high", "low", "close", "volume", "openint")
ROW_SCHEMA = pa.schema(
    [
        pa.field("ticker", pa.string(), nullable=False),
        pa.field("line", pa.int32(), nullable=False),
        pa.field("per", pa.string()),
        pa.field("date", pa.date32()),
        pa.field("time", pa.string()),
        *(pa.field(name, pa.float64()) for name in NUMBER_FIELDS),
    ]
)
"""The columns of a stored row, in order."""
_FULL_NUMBER = f"^(?:{NUMBER_PATTERN})$"


@dataclass(frozen=True, slots=True)
class ExportChunk:
    """Consecutive rows of one export: its ticker, the rows' bytes (no header line), and
    the line number of the first of them (1 for the export's first row)."""

    ticker: str
    rows: bytes
    first_line: int = 1


def _row_count(rows: bytes) -> int:
    return rows.count(b"\n") + (1 if rows and not rows.endswith(b"\n") else 0)


def _terminated(rows: bytes) -> bytes:
    return rows if not rows or rows.endswith(b"\n") else rows + b"\n"


def _read_fast(body: bytes, expected_rows: int) -> pa.Table | None:
    """The ten fields of every row as text, or None when a row is not ten fields or the
    reader splits lines otherwise than at line feeds (a carriage return inside a row)."""
    invalid: list[int] = []

    def note_invalid(_row: object) -> str:
        invalid.append(1)
        return "skip"

    try:
        table = pa_csv.read_csv(
            io.BytesIO(body),
            read_options=pa_csv.ReadOptions(column_names=list(_FIELDS), block_size=1 << 24),
            parse_options=pa_csv.ParseOptions(quote_char=False, invalid_row_handler=note_invalid),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(_FIELDS, pa.string()),
                include_columns=list(_FIELDS[1:]),
                strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None
    if invalid or table.num_rows != expected_rows:
        return None
    return table


def _read_by_line(body: bytes) -> pa.Table:
    """The fields of every row split at commas, padded or cut to ten (the careful reading)."""
    columns: list[list[str]] = [[] for _ in _FIELDS[1:]]
    for raw in body.split(b"\n")[:-1] if body.endswith(b"\n") else body.split(b"\n"):
        fields = raw.decode("utf-8", errors="replace").split(",")[1:10]
        fields += [""] * (9 - len(fields))
        for column, value in zip(columns, fields, strict=True):
            column.append(value)
    return pa.table({name: pa.array(values, pa.string()) for name, values in zip(_FIELDS[1:], columns, strict=True)})


def _strip(column: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.utf8_trim_whitespace(column)


def _numbers(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A text column as float64: numbers by SPEC 4, others null. Most chunks cast at once;
    a chunk holding anything else is stripped and matched against the rule first."""
    chunks = []
    for chunk in column.chunks:
        try:
            values = pc.cast(chunk, pa.float64())
        except pa.ArrowInvalid:
            stripped = pc.utf8_trim_whitespace(chunk)
            numeric = pc.match_substring_regex(stripped, _FULL_NUMBER)
            values = pc.cast(pc.if_else(numeric, stripped, pa.scalar(None, pa.string())), pa.float64())
        # The cast reads "nan", which SPEC 4 does not count as a number.
        chunks.append(pc.if_else(pc.is_nan(values), pa.scalar(None, pa.float64()), values))
    return pa.chunked_array(chunks, pa.float64())


def _dates(column: pa.ChunkedArray) -> pa.Array:
    """YYYYMMDD text as date32; anything but eight ASCII digits naming a real day is null."""
    text = _strip(column)
    digits = pc.and_(pc.equal(pc.binary_length(text), 8), pc.ascii_is_decimal(text)).to_numpy(zero_copy_only=False)
    number = pc.cast(pc.if_else(digits, text, "19700101"), pa.int64()).to_numpy(zero_copy_only=False)
    year, month, day = number // 10000, number // 100 % 100, number % 100
    months = (year - 1970) * 12 + np.clip(month, 1, 12) - 1
    first = months.astype("datetime64[M]").astype("datetime64[D]")
    following = (months + 1).astype("datetime64[M]").astype("datetime64[D]")
    valid = digits & (month >= 1) & (month <= 12) & (day >= 1) & (day <= (following - first).astype(np.int64))
    days = (first.astype(np.int64) + day - 1).astype(np.int32)
    return pa.array(days, pa.int32(), mask=~valid).cast(pa.date32())


def export_rows(chunks: Sequence[ExportChunk]) -> pa.Table:
    """The rows of `chunks`, in their order, as a table of ROW_SCHEMA."""
    counts = np.array([_row_count(chunk.rows) for chunk in chunks], dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return ROW_SCHEMA.empty_table()
    body = b"".join(_terminated(chunk.rows) for chunk in chunks)
    fields = _read_fast(body, total)
    if fields is None:
        fields = _read_by_line(body)
    owner = np.repeat(np.arange(len(chunks), dtype=np.int32), counts)
    tickers = pa.DictionaryArray.from_arrays(pa.array(owner), pa.array([chunk.ticker for chunk in chunks]))
    starts = np.repeat(
        np.array([chunk.first_line for chunk in chunks], dtype=np.int64) - np.cumsum(counts) + counts, counts
    )
    lines = (np.arange(total, dtype=np.int64) + starts).astype(np.int32)
    columns: dict[str, pa.ChunkedArray | pa.Array] = {
        "ticker": tickers.cast(pa.string()),
        "line": pa.array(lines),
        "per": fields["per"],
        "date": _dates(fields["date"]),
        "time": fields["time"],
    }
    for name in NUMBER_FIELDS:
        columns[name] = _numbers(fields[name])
    return pa.table(columns, schema=ROW_SCHEMA)
