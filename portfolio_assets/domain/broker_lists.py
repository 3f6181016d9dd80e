"""Broker instrument lists: every `*.csv` of the broker folder, read as text (SPEC 1.2).

Headers are matched case-insensitively in any order; of the five logical
columns only `symbol` is required. Each row with a non-empty symbol is one
instrument, even when the same symbol appears again in this or another list.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from .csv_files import read_csv_dicts, read_csv_rows, render_csv, render_csv_rows
from .errors import BrokerListError, printable

__all__ = [
    "INSTRUMENT_COLUMNS",
    "UNIVERSE_COLUMNS",
    "Instrument",
    "ParsedList",
    "broker_list_paths",
    "parse_appended_rows",
    "read_list_bytes",
    "read_universe",
    "read_universe_rows",
    "render_universe",
    "render_universe_rows",
]

INSTRUMENT_COLUMNS = ("symbol", "isin", "market", "name", "currency")
UNIVERSE_COLUMNS = (*INSTRUMENT_COLUMNS, "source_file")


@dataclass(frozen=True, slots=True)
class Instrument:
    symbol: str
    isin: str
    market: str
    name: str
    currency: str
    source_file: str

    def as_row(self) -> tuple[str, ...]:
        return (self.symbol, self.isin, self.market, self.name, self.currency, self.source_file)


def broker_list_paths(folder: Path) -> list[Path]:
    """The broker lists of `folder`, sorted by file name; hidden files are not lists.

    A list whose name is not valid UTF-8 is an error naming it: its name is each of
    its instruments' `source_file`, which the UTF-8 reports could not hold."""
    paths = sorted(
        (
            path
            for path in folder.iterdir()
            if path.suffix.lower() == ".csv" and not path.name.startswith(".") and path.is_file()
        ),
        key=lambda path: path.name,
    )
    for path in paths:
        if not path.name.isascii():
            try:
                path.name.encode("utf-8")
            except UnicodeEncodeError:
                shown = Path(printable(path))
                raise BrokerListError(shown, "its file name is not valid UTF-8; rename it") from None
    return paths


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise BrokerListError(
            path, f"is not valid UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start})", line
        ) from None


@dataclass(frozen=True, slots=True)
class ParsedList:
    """A broker list read whole: its instruments, and where each of the five logical
    columns is (None when missing), which rows appended later are read with."""

    instruments: list[Instrument]
    columns: tuple[int | None, ...]


def read_list_bytes(path: Path, data: bytes) -> ParsedList:
    """One broker list given its bytes, with its columns; `path` names it in errors."""
    text = _decode(path, data)
    rows = _csv_rows(path, text)
    if not rows:
        raise BrokerListError(path, "is empty: it has no header line with a symbol column")
    _, header = rows[0]
    positions: dict[str, int] = {}
    for position, title in enumerate(header):
        positions.setdefault(title.strip().lower(), position)
    if "symbol" not in positions:
        raise BrokerListError(path, f"has no symbol column (header: {', '.join(header)})", rows[0][0])
    columns = tuple(positions.get(column) for column in INSTRUMENT_COLUMNS)
    return ParsedList(_instruments(path, rows[1:], columns), columns)


def parse_appended_rows(path: Path, data: bytes, columns: tuple[int | None, ...]) -> list[Instrument]:
    """The instruments of rows appended to a list whose earlier bytes ended with a line
    break (so `data` starts a row), read with that list's `columns`. BrokerListError when
    they cannot be read; the whole list then gives the error with its line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BrokerListError(path, f"its appended rows are not valid UTF-8 ({error.reason})") from None
    return _instruments(path, _csv_rows(path, text), columns)


def _csv_rows(path: Path, text: str) -> list[tuple[int, list[str]]]:
    """(line number, cells) of every row of `text` that is not blank."""
    if "\x00" in text:
        raise BrokerListError(path, "is not a CSV text file (it contains NUL bytes)")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        rows = [(reader.line_num, row) for row in reader]
    except csv.Error as error:
        raise BrokerListError(path, f"is not valid CSV ({error})", reader.line_num) from None
    return [(number, row) for number, row in rows if any(cell.strip() for cell in row)]


def _instruments(path: Path, rows: list[tuple[int, list[str]]], columns: tuple[int | None, ...]) -> list[Instrument]:
    instruments = []
    for _, row in rows:
        values = [row[at].strip() if at is not None and at < len(row) else "" for at in columns]
        symbol, isin, market, name, currency = values
        if symbol:
            instruments.append(Instrument(symbol, isin, market, name, currency, source_file=path.name))
    return instruments


def render_universe(instruments: list[Instrument]) -> str:
    return render_csv(UNIVERSE_COLUMNS, (item.as_row() for item in instruments))


def render_universe_rows(instruments: list[Instrument]) -> str:
    """The universe's rows of these instruments, without its header line."""
    return render_csv_rows(item.as_row() for item in instruments)


def read_universe(path: Path) -> list[Instrument]:
    return [Instrument(*(row[column] for column in UNIVERSE_COLUMNS)) for row in read_csv_dicts(path)]


def read_universe_rows(text: str) -> list[Instrument]:
    """The instruments of universe rows (without the header line), as `render_universe_rows` wrote them."""
    rows = read_csv_rows(text)
    wrong = next((number for number, row in enumerate(rows, 1) if len(row) != len(UNIVERSE_COLUMNS)), None)
    if wrong is not None:
        raise ValueError(f"row {wrong} of the universe's rows has {len(rows[wrong - 1])} cells, not 6")
    return [Instrument(*row) for row in rows]
