"""Reading one Stooq price file into its data lines (shared by diagnostics and exports).

A file is decoded as strict UTF-8 (a leading BOM is dropped); lines end at
`\\n`, `\\r\\n` or `\\r`. Lines starting with `<` (Stooq's own header) and blank
lines carry no data. Every other line is kept stripped of surrounding white
space, in file order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "LINE_BREAK",
    "MissingPriceFile",
    "PriceLines",
    "UnreadablePriceFile",
    "data_lines",
    "price_lines_from_bytes",
    "read_price_lines",
]

LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class PriceLines:
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MissingPriceFile:
    """The file named by the index is gone."""


@dataclass(frozen=True, slots=True)
class UnreadablePriceFile:
    error_name: str  # exception class name, e.g. UnicodeDecodeError


def price_lines_from_bytes(data: bytes) -> PriceLines:
    """Data lines of a file's bytes; raises UnicodeDecodeError for non-UTF-8 content."""
    text = data.decode("utf-8")
    return PriceLines(data_lines(text[1:] if text.startswith("\ufeff") else text))


def data_lines(text: str) -> tuple[str, ...]:
    """The data lines of decoded text (a whole file without its BOM, or lines appended to one)."""
    kept = []
    for raw in LINE_BREAK.split(text):
        if raw.startswith("<"):
            continue
        line = raw.strip()
        if line:
            kept.append(line)
    return tuple(kept)


def read_price_lines(path: Path) -> PriceLines | MissingPriceFile | UnreadablePriceFile:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return MissingPriceFile()
    except OSError as error:
        return UnreadablePriceFile(type(error).__name__)
    try:
        return price_lines_from_bytes(data)
    except UnicodeDecodeError as error:
        return UnreadablePriceFile(type(error).__name__)
