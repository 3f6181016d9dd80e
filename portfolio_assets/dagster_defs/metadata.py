"""Turning the plain metadata of step results and checks (steps/asset_metadata.py) into
the metadata values users read in the UI.

Counts are typed tables (`MetadataValue.table`) and report shapes use Dagster's standard
keys (`dagster/row_count`, `dagster/column_schema`), so the UI shows them in its own
places (row count in the asset's overview, the columns tab) and plots numbers over time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import dagster as dg

from ..domain.changes import CHANGE_KINDS, ChangeCounts
from ..instance.dagster_internals.library import COLUMN_SCHEMA_METADATA_KEY, ROW_COUNT_METADATA_KEY
from ..steps.asset_metadata import Counts, FilePath, JsonValue, Listing, MetadataItem, Preview, Table, TableShape

__all__ = ["change_counts_from_metadata", "dagster_metadata"]

# Report columns whose cells are not text; every other column of a report is a string.
_COLUMN_TYPES = {"price_start": "date", "price_end": "date", "price_rows": "int"}


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> dg.MetadataValue:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return dg.MetadataValue.md("\n".join(lines))


def _counts_table(title: str, counts: Mapping[str, int]) -> dg.MetadataValue:
    """How many rows have each value of one column, most frequent first, as a typed table."""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    schema = dg.TableSchema(columns=[dg.TableColumn(title, "string"), dg.TableColumn("rows", "int")])
    records = [dg.TableRecord({title: value, "rows": count}) for value, count in ordered]
    return dg.MetadataValue.table(records, schema=schema)


def _report_shape(
    columns: Sequence[str], row_count: int, types: Mapping[str, str] | None = None
) -> dict[str, dg.MetadataValue]:
    """Dagster's standard metadata for a table: its row count and its columns."""
    types = {**_COLUMN_TYPES, **(types or {})}
    schema = dg.TableSchema(columns=[dg.TableColumn(name, types.get(name, "string")) for name in columns])
    return {
        ROW_COUNT_METADATA_KEY: dg.MetadataValue.int(row_count),
        COLUMN_SCHEMA_METADATA_KEY: dg.MetadataValue.table_schema(schema),
    }


def _csv_preview(header: Sequence[str], rows: Sequence[Sequence[object]], limit: int = 10) -> dg.MetadataValue:
    return _markdown_table(header, rows[:limit])


def change_counts_from_metadata(metadata: Mapping[str, dg.MetadataValue]) -> ChangeCounts | None:
    """The counts `change_metadata` put in a materialization's metadata (None if it has none)."""
    compared = metadata.get("changes_compared_with_previous")
    if compared is None:
        return None
    if not compared.value:
        return ChangeCounts(False)
    by_kind = {}
    for kind in CHANGE_KINDS:
        count = metadata[f"changes_{kind}"].value
        by_kind[kind] = count if isinstance(count, int) else 0
    return ChangeCounts(True, by_kind)


def _listing(listing: Listing) -> dg.MetadataValue:
    items = listing.items
    shown = "\n".join(f"- {item}" for item in items[: listing.limit])
    if listing.more and len(items) > listing.limit:
        shown += f"\n- ... and {len(items) - listing.limit} more"
    return dg.MetadataValue.md(shown or listing.empty)


def _table(table: Table) -> dg.MetadataValue:
    schema = dg.TableSchema(columns=[dg.TableColumn(name, kind) for name, kind in table.columns])
    return dg.MetadataValue.table([dg.TableRecord(dict(record)) for record in table.records], schema=schema)


def _value(item: MetadataItem) -> dg.MetadataValue:
    if isinstance(item, FilePath):
        return dg.MetadataValue.path(str(item.path))
    if isinstance(item, Counts):
        return _counts_table(item.column, item.counts)
    if isinstance(item, Preview):
        return _csv_preview(item.columns, item.rows, item.limit)
    if isinstance(item, Listing):
        return _listing(item)
    if isinstance(item, Table):
        return _table(item)
    if isinstance(item, JsonValue):
        return dg.MetadataValue.json(item.value)  # type: ignore[arg-type]
    if isinstance(item, bool):
        return dg.MetadataValue.bool(item)
    if isinstance(item, int):
        return dg.MetadataValue.int(item)
    if isinstance(item, float):
        return dg.MetadataValue.float(item)
    if isinstance(item, str):
        return dg.MetadataValue.text(item)
    raise TypeError(f"no metadata value for {item!r}")


def dagster_metadata(items: Mapping[str, MetadataItem]) -> dict[str, dg.MetadataValue]:
    """Each item as Dagster's metadata value, in order; a TableShape becomes the standard
    row count and column schema keys."""
    metadata: dict[str, dg.MetadataValue] = {}
    for name, item in items.items():
        if isinstance(item, TableShape):
            metadata.update(_report_shape(item.columns, item.row_count, item.types))
        else:
            metadata[name] = _value(item)
    return metadata
