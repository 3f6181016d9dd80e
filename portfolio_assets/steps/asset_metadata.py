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

from ..domain.changes import CHANGE_KINDS, ChangeSet
from ..domain.price_lag import PriceLag

__all__ = [
    "CHANGE_TABLE_LIMIT",
    "Counts",
    "FilePath",
    "JsonValue",
    "Listing",
    "MetadataItem",
    "Preview",
    "Table",
    "TableShape",
    "change_metadata",
    "lag_table",
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


@dataclass(frozen=True)
class JsonValue:
    value: object = field(default_factory=dict)


MetadataItem = str | int | float | bool | FilePath | Counts | Preview | Listing | Table | TableShape | JsonValue

# Rows of the changed-instruments table; a daily update extends the prices of thousands.
CHANGE_TABLE_LIMIT = 500
_CHANGE_COLUMNS = (
    ("kind", "string"),
    ("source_file", "string"),
    ("symbol", "string"),
    ("market", "string"),
    ("isin", "string"),
    ("occurrence", "int"),
    ("column", "string"),
    ("from", "string"),
    ("to", "string"),
    ("ticker", "string"),
)


def change_metadata(changes: ChangeSet) -> dict[str, MetadataItem]:
    """What changed since the previous reports: a summary line, a number per kind (plotted
    over time; absent when there was nothing to compare with) and the changed instruments."""
    counts = changes.counts
    summary = counts.summary()
    if len(changes.changes) > CHANGE_TABLE_LIMIT:
        summary += (
            f" (the table shows the first {CHANGE_TABLE_LIMIT} of {len(changes.changes)} changes; "
            "`portfolio-assets changes --all` lists them all)"
        )
    metadata: dict[str, MetadataItem] = {"changes_summary": summary, "changes_compared_with_previous": changes.compared}
    if changes.compared:
        metadata.update({f"changes_{kind}": counts.by_kind[kind] for kind in CHANGE_KINDS})
    metadata["changed_instruments"] = Table(
        _CHANGE_COLUMNS,
        [
            {
                "kind": change.kind,
                "source_file": change.instrument.source_file,
                "symbol": change.instrument.symbol,
                "market": change.instrument.market,
                "isin": change.instrument.isin,
                "occurrence": change.instrument.occurrence,
                "column": change.column,
                "from": change.before,
                "to": change.after,
                "ticker": change.ticker,
            }
            for change in changes.changes[:CHANGE_TABLE_LIMIT]
        ],
    )
    return metadata


_LAG_COLUMNS = ("symbol", "market", "isin", "source_file", "matched_ticker", "region", "price_end")


def lag_table(lags: Sequence[PriceLag], limit: int = 200) -> Table:
    """The lagging instruments, most lagging first, with their region's newest price_end and the lag."""
    columns = [
        *((name, "date" if name == "price_end" else "string") for name in _LAG_COLUMNS),
        ("region_newest", "date"),
        ("lag_business_days", "int"),
    ]
    records: list[dict[str, Cell]] = [
        {
            **{name: str(lag.row[name]) for name in _LAG_COLUMNS},
            "region_newest": lag.region_newest,
            "lag_business_days": lag.business_days,
        }
        for lag in lags[:limit]
    ]
    return Table(columns, records)
