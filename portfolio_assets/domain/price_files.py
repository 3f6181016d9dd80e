"""The lines of a Stooq price file: which are rows, and which an export keeps (SPEC 2, SPEC 4).

A file is decoded as strict UTF-8 (a leading BOM is dropped); lines end at
`\\n`, `\\r\\n` or `\\r`. Lines starting with `<` (Stooq's own header) and blank
lines carry no data. Every other line is a data line, stripped of surrounding
white space, in file order. An export keeps the data lines but those starting
with `ticker` (any case).

`regular_rows` is the same rule for the common case, read without splitting:
when a text's lines are already its data lines and its export lines, unchanged,
it returns them as they are. The row-by-row functions and it are the only
places the line rule is written; diagnostics and exports (`price_scan`) take
every line from here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "LINE_BREAK",
    "MissingPriceFile",
    "UnreadablePriceFile",
    "data_lines",
    "decode_price_file",
    "export_lines",
    "regular_rows",
]

LINE_BREAK = re.compile(r"\r\n|\r|\n")
# A line starting with this is Stooq's header (`<TICKER>,<PER>,...`): not a row.
_STOOQ_HEADER_MARK = "<"
# A data line starting with this (any case) is a column header: not exported.
_COLUMN_HEADER_WORD = "ticker"
# What `str.strip()` removes from an ASCII line, but the line breaks that end lines.
_ASCII_SPACE = "".join(
    character for character in map(chr, range(128)) if character.isspace() and character not in "\r\n"
)
# A line after the first that is blank, starts with `<` or starts with `ticker` (any case):
# one regex pass costs a third of three separate searches.
_DROPPED_LINE = re.compile(
    "\n(?:[\n"
    + re.escape(_STOOQ_HEADER_MARK)
    + "]|"
    + "".join(f"[{letter.lower()}{letter.upper()}]" for letter in _COLUMN_HEADER_WORD)
    + ")"
)


@dataclass(frozen=True, slots=True)
class MissingPriceFile:
    """The file named by the index is gone."""


@dataclass(frozen=True, slots=True)
class UnreadablePriceFile:
    error_name: str  # exception class name, e.g. UnicodeDecodeError


def decode_price_file(data: bytes) -> str:
    """A whole file's text, its BOM dropped; raises UnicodeDecodeError for non-UTF-8 content."""
    text = data.decode("utf-8")
    return text[1:] if text.startswith("\ufeff") else text


def data_lines(text: str) -> tuple[str, ...]:
    """The data lines of decoded text (a whole file without its BOM, or lines appended to one)."""
    kept = []
    for raw in LINE_BREAK.split(text):
        if raw.startswith(_STOOQ_HEADER_MARK):
            continue
        line = raw.strip()
        if line:
            kept.append(line)
    return tuple(kept)


def _is_column_header(line: str) -> bool:
    return line[: len(_COLUMN_HEADER_WORD)].lower() == _COLUMN_HEADER_WORD


def export_lines(lines: Iterable[str]) -> list[str]:
    """The data lines an export keeps: all but those starting with `ticker`."""
    return [line for line in lines if not _is_column_header(line)]


def regular_rows(text: str) -> str | None:
    """The data lines of `text`, `\\n`-separated, when the text needs no splitting to read
    them: after a first line starting with `<`, lines that are ASCII, already stripped,
    not blank, not starting with `<` or `ticker`, and free of quotes, ended by `\\n` or
    `\\r\\n` throughout. Then they are exactly `data_lines(text)`, all kept by
    `export_lines`, and a CSV reader with no quoting reads the same fields from them.
    In a text without carriage returns they are its tail, as they are. None when the text
    needs the row-by-row reading."""
    if text.startswith(_STOOQ_HEADER_MARK):
        end_of_header = LINE_BREAK.search(text)
        text = "" if end_of_header is None else text[end_of_header.end() :]
    if "\r" in text:
        if text.count("\r") != text.count("\r\n"):
            return None
        text = text.replace("\r\n", "\n")
    if not text or not text.isascii() or text[0] in "\n" + _STOOQ_HEADER_MARK or _is_column_header(text):
        return None
    # Plain `in` scans are far faster than one regex with alternatives. A quote is no
    # special character to the rules, but the reading of numbers is only known to agree
    # with them without quotes.
    if any(character in text for character in _ASCII_SPACE + '"') or _DROPPED_LINE.search(text):
        return None
    return text
