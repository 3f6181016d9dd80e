"""What a step shows about its result, in plain values: the registry's `metadata` and
`checks` functions return these, and the Dagster layer turns each into its metadata value
(dagster_defs/metadata.py). Steps stay free of Dagster, and a new asset describes its
result without touching the Dagster layer.

A value is a number, text or a bool as it is, or one of the kinds below.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Counts",
    "FilePath",
    "JsonValue",
    "Listing",
    "MetadataItem",
    "Preview",
    "Table",
    "TableShape",
]


@dataclass(frozen=True)
class FilePath:
    """A file or folder the asset wrote (the UI shows it as a path)."""

    path: Path


@dataclass(frozen=True)
class Counts:
    """How many rows have each value of one column, shown most frequent first."""

    column: str
    counts: Mapping[str, int]


@dataclass(frozen=True)
class Preview:
    """The first rows of a CSV output, as a Markdown table."""

    columns: Sequence[str]
    rows: Sequence[Sequence[object]]
    limit: int = 10


@dataclass(frozen=True)
class Listing:
    """Names as a Markdown list; `empty` when there are none."""

    items: Sequence[str]
    limit: int = 20
    empty: str = "(none)"
    more: bool = True
    """Say how many were left out beyond `limit`."""


Cell = str | int | float | bool | None


@dataclass(frozen=True)
class Table:
    """Typed rows: `columns` are (name, type) with type one of string, int, date, bool."""

    columns: Sequence[tuple[str, str]]
    records: Sequence[Mapping[str, Cell]]


@dataclass(frozen=True)
class TableShape:
    """A CSV output's row count and columns, under Dagster's standard keys (the key this
    item is given is not shown)."""

    columns: Sequence[str]
    row_count: int
    types: Mapping[str, str] = field(default_factory=dict)
    """A column's type (string, int, float, date) where it is not the report's own."""


@dataclass(frozen=True)
class JsonValue:
    value: object = field(default_factory=dict)


MetadataItem = str | int | float | bool | FilePath | Counts | Preview | Listing | Table | TableShape | JsonValue
