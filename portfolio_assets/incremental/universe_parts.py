"""Where each broker list's rows are in tradeable_universe.csv, and what is known of the
list's bytes, so that a list that only grew is read from its new rows only.

The universe is its header line followed by one part per broker list, in list order:
the list's rows as the universe writes them. `universe_parts.json` (beside the reports)
records, for the universe file it describes (by hash), each part's list (file name,
size, hash of its bytes, whether they end with a line break, where its five columns
are), its rows' byte range in the universe and their hash.

Building the universe (`assemble_universe`), a list is
- the same: the same size and hash; its part is taken from the universe file as it is;
- grown: larger, its first bytes hash to the recorded hash and those ended with a line
  break, so the new bytes start a row; only they are parsed, with the recorded columns,
  and their rows are added to the end of its part;
- otherwise (new, changed, or nothing recorded) parsed whole.
Every part is taken from the universe file only when that file hashes to the hash the
record names; anything else (no record, another version, the universe deleted or
edited) parses every list. Any problem in the new rows of a grown list parses that list
whole, so a bad row is reported exactly as a first read reports it.

match_report reads the parts (`load_universe_parts`) to find each list's rows in the
universe and to tell which lists changed since its own last run.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..domain.broker_lists import (
    UNIVERSE_COLUMNS,
    Instrument,
    parse_appended_rows,
    read_list_bytes,
    render_universe,
    render_universe_rows,
)
from ..domain.errors import BrokerListError
from .json_cache import load_json_cache, save_json_cache

__all__ = [
    "UNIVERSE_HEADER",
    "AssembledUniverse",
    "UniversePart",
    "UniverseParts",
    "assemble_universe",
    "content_hash",
    "load_universe_parts",
    "save_universe_parts",
]

KIND = "universe_parts"
UNIVERSE_HEADER = render_universe([]).encode("utf-8")


def content_hash(data: bytes | memoryview) -> str:
    """The hash the parts record of a list's bytes or a part's rows."""
    return hashlib.sha256(data).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class UniversePart:
    """One broker list, and its rows in the universe."""

    name: str
    """The list's file name: its instruments' source_file."""
    size: int
    list_hash: str
    ends_with_line_break: bool
    columns: tuple[int | None, ...]
    """Where symbol, isin, market, name and currency are in the list (None: missing)."""
    rows: int
    start: int
    """Where its rows start in the universe file, in bytes, and how many bytes they take."""
    length: int
    rows_hash: str

    def as_json(self) -> list[object]:
        return [
            self.name,
            self.size,
            self.list_hash,
            self.ends_with_line_break,
            list(self.columns),
            self.rows,
            self.start,
            self.length,
            self.rows_hash,
        ]

    @classmethod
    def from_json(cls, value: object) -> UniversePart:
        if not isinstance(value, list) or len(value) != 9:
            raise ValueError(f"not a part: {value!r}")
        name, size, list_hash, line_break, columns, rows, start, length, rows_hash = value
        texts, numbers = (name, list_hash, rows_hash), (size, rows, start, length)
        if not all(isinstance(item, str) for item in texts) or not isinstance(line_break, bool):
            raise ValueError(f"not a part: {value!r}")
        if not all(isinstance(item, int) and not isinstance(item, bool) and item >= 0 for item in numbers):
            raise ValueError(f"not a part: {value!r}")
        if not isinstance(columns, list) or not all(item is None or isinstance(item, int) for item in columns):
            raise ValueError(f"not a part: {value!r}")
        return cls(name, size, list_hash, line_break, tuple(columns), rows, start, length, rows_hash)


@dataclass(frozen=True)
class UniverseParts:
    """The parts of the universe file whose bytes hash to `universe_hash`, in list order."""

    universe_hash: str
    parts: list[UniversePart] = field(default_factory=list)

    def by_name(self) -> dict[str, UniversePart]:
        return {part.name: part for part in self.parts}


def load_universe_parts(path: Path, version: str, universe: bytes) -> tuple[UniverseParts | None, str | None]:
    """The recorded parts of `universe` (the universe file's bytes), or None when none are
    recorded for exactly these bytes; and a warning when the record is damaged."""
    loaded = load_json_cache(path, KIND, version)
    if not loaded.entries:
        return None, loaded.warning
    try:
        recorded = UniverseParts(
            loaded.entries["universe_hash"], [UniversePart.from_json(v) for v in loaded.entries["parts"]]
        )
    except (KeyError, TypeError, ValueError):
        return None, f"{path} is not a record of the universe's parts; discarding it and rebuilding"
    return _matching(recorded, universe), None


def _matching(recorded: UniverseParts, universe: bytes) -> UniverseParts | None:
    if not isinstance(recorded.universe_hash, str) or recorded.universe_hash != content_hash(universe):
        return None
    end = len(UNIVERSE_HEADER)
    for part in recorded.parts:  # contiguous, in order, covering the file: else not these bytes' parts
        if part.start != end:
            return None
        end += part.length
    return recorded if end == len(universe) and universe.startswith(UNIVERSE_HEADER) else None


def save_universe_parts(path: Path, version: str, parts: UniverseParts) -> None:
    entries = {"universe_hash": parts.universe_hash, "parts": [part.as_json() for part in parts.parts]}
    save_json_cache(path, KIND, version, entries)


@dataclass(frozen=True)
class AssembledUniverse:
    data: bytes
    """The universe file's bytes."""
    parts: UniverseParts
    instruments_parsed: int
    """Rows of broker lists parsed: every row of a list read whole, the new rows of a grown one."""
    lists_read_whole: int
    lists_grown: int

    @property
    def instrument_count(self) -> int:
        return sum(part.rows for part in self.parts.parts)

    def rows_by_source_file(self) -> dict[str, int]:
        return {part.name: part.rows for part in self.parts.parts if part.rows}

    def preview(self, limit: int = 10) -> list[tuple[str, ...]]:
        """The first `limit` instruments, as universe rows (reading no further than those)."""
        reader = csv.reader(io.TextIOWrapper(io.BytesIO(self.data), encoding="utf-8", newline=""))
        return [tuple(row) for row in itertools.islice(reader, 1, limit + 1) if len(row) == len(UNIVERSE_COLUMNS)]


def _grown_rows(path: Path, data: bytes, known: UniversePart) -> list[Instrument] | None:
    """The instruments of the rows appended to a list since `known`, or None when it did not
    only grow (or its new rows cannot be read alone)."""
    if not known.ends_with_line_break or len(data) <= known.size:
        return None
    if content_hash(memoryview(data)[: known.size]) != known.list_hash:
        return None
    try:
        return parse_appended_rows(path, data[known.size :], known.columns)
    except BrokerListError:
        return None  # read whole: the error then names the line, as a first read does


def assemble_universe(
    contents: Sequence[tuple[Path, bytes]], known: UniverseParts | None, old_universe: bytes | None
) -> AssembledUniverse:
    """The universe of the lists `contents` (path and bytes, in list order), taking what
    `known` (the parts of `old_universe`) says is still right and parsing the rest."""
    recorded = known.by_name() if known is not None and old_universe is not None else {}
    pieces = [UNIVERSE_HEADER]
    parts: list[UniversePart] = []
    parsed = read_whole = grown = 0
    offset = len(UNIVERSE_HEADER)
    for path, data in contents:
        list_hash = content_hash(data)
        before = recorded.get(path.name)
        new_rows = None if before is None else _grown_rows(path, data, before)
        if before is not None and old_universe is not None and (list_hash == before.list_hash or new_rows is not None):
            rows = old_universe[before.start : before.start + before.length]
            columns, count = before.columns, before.rows
            if new_rows is not None:
                rows += render_universe_rows(new_rows).encode("utf-8")
                count += len(new_rows)
                parsed += len(new_rows)
                grown += 1
            rows_hash = before.rows_hash if new_rows is None else content_hash(rows)
        else:
            whole = read_list_bytes(path, data)
            rows = render_universe_rows(whole.instruments).encode("utf-8")
            columns, count, rows_hash = whole.columns, len(whole.instruments), content_hash(rows)
            parsed += count
            read_whole += 1
        line_break = data.endswith(b"\n")
        parts.append(
            UniversePart(path.name, len(data), list_hash, line_break, columns, count, offset, len(rows), rows_hash)
        )
        pieces.append(rows)
        offset += len(rows)
    data = b"".join(pieces)
    return AssembledUniverse(data, UniverseParts(content_hash(data), parts), parsed, read_whole, grown)
