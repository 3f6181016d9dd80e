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

__all__ = [
    "MATCHED_VERSION_KEY",
    "NUMBER_FIELDS",
    "ROW_SCHEMA",
    "TEXT_FIELDS",
    "ExportChunk",
    "export_pieces",
    "export_rows",
    "piece_fields",
]

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
MATCHED_VERSION_KEY = "portfolio_assets.matched_version"
"""The price store's commit metadata key: every commit of its prices table names the
version of its matched table written with it (incremental/price_store.py, data.py)."""
_FULL_NUMBER = f"^(?:{NUMBER_PATTERN})$"


@dataclass(frozen=True, slots=True)
class ExportChunk:
    """Consecutive rows of one export: its ticker, the bytes holding the rows from
    `offset` on (no header line), and the line number of the first of them (1 for the
    export's first row)."""

    ticker: str
    data: bytes
    first_line: int = 1
    offset: int = 0

    def rows(self) -> memoryview:
        return memoryview(self.data)[self.offset :]

    def row_count(self) -> int:
        size = len(self.data) - self.offset
        if size <= 0:
            return 0
        return self.data.count(b"\n", self.offset) + (0 if self.data.endswith(b"\n") else 1)


_PIECE_BYTES = 64 << 20
"""Rows are parsed about this many bytes at a time: a piece with an unusual row is read
the careful way alone, and the text of only one piece is held at a time."""
_TYPED = {**dict.fromkeys(_FIELDS, pa.string()), **dict.fromkeys(NUMBER_FIELDS, pa.float64())}


def _csv(body: bytes, types: dict[str, pa.DataType]) -> pa.Table:
    return pa_csv.read_csv(
        io.BytesIO(body),
        # One thread: the pieces are parsed on every core already, and the reader's own
        # threads on top of those only add switching.
        read_options=pa_csv.ReadOptions(column_names=list(_FIELDS), block_size=1 << 24, use_threads=False),
        parse_options=pa_csv.ParseOptions(quote_char=False),
        convert_options=pa_csv.ConvertOptions(
            column_types=types, include_columns=list(_FIELDS[1:]), null_values=[""], strings_can_be_null=False
        ),
    )


def _read_fast(body: bytes, expected_rows: int) -> pa.Table | None:
    """The fields of every row (numbers converted when every one of the piece reads as a
    number or is empty), or None when a row is not ten fields or the reader splits lines
    otherwise than at line feeds (a carriage return inside a row)."""
    try:
        table = _csv(body, _TYPED)
    except (pa.ArrowInvalid, UnicodeDecodeError):
        try:
            table = _csv(body, dict.fromkeys(_FIELDS, pa.string()))
        except (pa.ArrowInvalid, UnicodeDecodeError):
            return None
    return table if table.num_rows == expected_rows else None


def _read_by_line(body: bytes) -> pa.Table:
    """The fields of every row split at commas, padded or cut to ten (the careful reading)."""
    columns: list[list[str]] = [[] for _ in _FIELDS[1:]]
    lines = body.split(b"\n") if body else []
    for raw in lines[:-1] if body.endswith(b"\n") else lines:
        fields = raw.decode("utf-8", errors="replace").split(",")[1:10]
        fields += [""] * (9 - len(fields))
        for column, value in zip(columns, fields, strict=True):
            column.append(value)
    return pa.table({name: pa.array(values, pa.string()) for name, values in zip(_FIELDS[1:], columns, strict=True)})


def _numbers(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A text column as float64: numbers by SPEC 4, others null. Most chunks cast at once;
    a chunk holding anything else is stripped and matched against the rule first."""
    chunks = []
    for chunk in column.chunks:
        try:
            values = chunk if chunk.type == pa.float64() else pc.cast(chunk, pa.float64())
        except pa.ArrowInvalid:
            stripped = pc.utf8_trim_whitespace(chunk)
            numeric = pc.match_substring_regex(stripped, _FULL_NUMBER)
            values = pc.cast(pc.if_else(numeric, stripped, pa.scalar(None, pa.string())), pa.float64())
        # The cast reads "nan", which SPEC 4 does not count as a number.
        nan = pc.is_nan(values)
        chunks.append(pc.if_else(nan, pa.scalar(None, pa.float64()), values) if pc.any(nan).as_py() else values)
    return pa.chunked_array(chunks, pa.float64())


def _month_tables() -> tuple[np.ndarray, np.ndarray]:
    """For each year * 12 + month - 1 of years 1 to 9999: the day number (days since
    1970-01-01) of the month's first day, and how many days the month has."""
    months = np.arange(12, 10000 * 12, dtype=np.int64) - 1970 * 12
    first = months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    following = (months + 1).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    return (
        np.concatenate([np.zeros(12, np.int64), first]).astype(np.int32),
        np.concatenate([np.zeros(12, np.int64), following - first]).astype(np.int32),
    )


_FIRST_DAY, _DAYS_IN_MONTH = _month_tables()


def _dates(column: pa.ChunkedArray) -> pa.Array:
    """YYYYMMDD text as date32; anything but eight ASCII digits naming a real day is null."""

    def as_numbers(text: pa.ChunkedArray) -> np.ndarray | None:
        """The values as numbers when each is eight ASCII digits (a value of at least
        10000101 read from eight characters has no sign and no space), else None."""
        if not pc.all(pc.equal(pc.binary_length(text), 8)).as_py():
            return None
        try:
            numbers = pc.cast(text, pa.int32()).to_numpy(zero_copy_only=False)
        except pa.ArrowInvalid:
            return None
        return numbers if len(numbers) == 0 or numbers.min() >= 10000101 else None

    number = as_numbers(column)
    if number is None:  # the careful way: stripped (SPEC 4), each checked
        text = pc.utf8_trim_whitespace(column)
        digits = pc.and_(pc.equal(pc.binary_length(text), 8), pc.ascii_is_decimal(text))
        mask = np.asarray(digits.to_numpy(zero_copy_only=False), dtype=bool)
        number = pc.cast(pc.if_else(digits, text, "19700101"), pa.int32()).to_numpy(zero_copy_only=False)
        number = np.where(mask, number, 19700101)
    else:
        mask = np.ones(len(number), dtype=bool)
    year, month, day = number // 10000, number // 100 % 100, number % 100
    valid = mask & (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1)
    index = np.where(valid, year * 12 + month - 1, 12)
    valid &= day <= _DAYS_IN_MONTH[index]
    return pa.array(_FIRST_DAY[index] + day - 1, pa.int32(), mask=~valid).cast(pa.date32())


def export_pieces(chunks: Sequence[ExportChunk]) -> list[list[ExportChunk]]:
    pieces: list[list[ExportChunk]] = [[]]
    size = 0
    for chunk in chunks:
        if size >= _PIECE_BYTES:
            pieces.append([])
            size = 0
        pieces[-1].append(chunk)
        size += len(chunk.data) - chunk.offset
    return pieces


def piece_fields(piece: Sequence[ExportChunk]) -> pa.Table:
    """The typed fields (all but ticker and line) of the rows of `piece`, in order."""
    counts = [chunk.row_count() for chunk in piece]
    body = b"".join(part for chunk in piece for part in (chunk.rows(), b"" if chunk.data.endswith(b"\n") else b"\n"))
    fields = _read_fast(body, sum(counts)) if body else None
    if fields is None:
        fields = _read_by_line(body)
    typed: dict[str, pa.ChunkedArray | pa.Array] = {
        "per": fields["per"],
        "date": _dates(fields["date"]),
        "time": fields["time"],
    }
    for name in NUMBER_FIELDS:
        typed[name] = _numbers(fields[name])
    return pa.table(typed)


def export_rows(chunks: Sequence[ExportChunk], fields: Sequence[pa.Table] | None = None) -> pa.Table:
    """The rows of `chunks`, in their order, as a table of ROW_SCHEMA; `fields` are the
    `piece_fields` of `export_pieces(chunks)` when already parsed (on several threads)."""
    counts = np.array([chunk.row_count() for chunk in chunks], dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return ROW_SCHEMA.empty_table()
    if fields is None:
        fields = [piece_fields(piece) for piece in export_pieces(chunks)]
    parsed = pa.concat_tables(fields)
    owner = np.repeat(np.arange(len(chunks), dtype=np.int32), counts)
    tickers = pa.DictionaryArray.from_arrays(pa.array(owner), pa.array([chunk.ticker for chunk in chunks]))
    firsts = np.array([chunk.first_line for chunk in chunks], dtype=np.int64)
    starts = np.repeat(firsts - np.cumsum(counts) + counts, counts)
    lines = (np.arange(total, dtype=np.int64) + starts).astype(np.int32)
    columns: dict[str, pa.ChunkedArray | pa.Array] = {
        "ticker": tickers.cast(pa.string()),
        "line": pa.array(lines),
        **{name: parsed[name] for name in ROW_SCHEMA.names[2:]},
    }
    return pa.table(columns, schema=ROW_SCHEMA)
