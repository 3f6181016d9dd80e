"""Turning step results into the metadata users read in the UI.

Counts are typed tables (`MetadataValue.table`) and report shapes use Dagster's standard
keys (`dagster/row_count`, `dagster/column_schema`), so the UI shows them in its own
places (row count in the asset's overview, the columns tab) and plots numbers over time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import dagster as dg

from ..domain.changes import CHANGE_KINDS, ChangeCounts, ChangeSet
from ..domain.price_lag import PriceLag
from ..instance.dagster_internals.library import COLUMN_SCHEMA_METADATA_KEY, ROW_COUNT_METADATA_KEY

__all__ = [
    "CHANGE_TABLE_LIMIT",
    "change_counts_from_metadata",
    "change_metadata",
    "counts_table",
    "csv_preview",
    "lag_table",
    "markdown_table",
    "report_shape",
]

# Report columns whose cells are not text; every other column of a report is a string.
_COLUMN_TYPES = {"price_start": "date", "price_end": "date", "price_rows": "int"}


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> dg.MetadataValue:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return dg.MetadataValue.md("\n".join(lines))


def counts_table(title: str, counts: Mapping[str, int]) -> dg.MetadataValue:
    """How many rows have each value of one column, most frequent first, as a typed table."""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    schema = dg.TableSchema(columns=[dg.TableColumn(title, "string"), dg.TableColumn("rows", "int")])
    records = [dg.TableRecord({title: value, "rows": count}) for value, count in ordered]
    return dg.MetadataValue.table(records, schema=schema)


def report_shape(columns: Sequence[str], row_count: int) -> dict[str, dg.MetadataValue]:
    """Dagster's standard metadata for a CSV report: its row count and its columns."""
    schema = dg.TableSchema(columns=[dg.TableColumn(name, _COLUMN_TYPES.get(name, "string")) for name in columns])
    return {
        ROW_COUNT_METADATA_KEY: dg.MetadataValue.int(row_count),
        COLUMN_SCHEMA_METADATA_KEY: dg.MetadataValue.table_schema(schema),
    }


def csv_preview(header: Sequence[str], rows: Sequence[Sequence[object]], limit: int = 10) -> dg.MetadataValue:
    return markdown_table(header, rows[:limit])


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


def _changes_table(changes: ChangeSet) -> dg.MetadataValue:
    schema = dg.TableSchema(columns=[dg.TableColumn(name, kind) for name, kind in _CHANGE_COLUMNS])
    records = [
        dg.TableRecord(
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
        )
        for change in changes.changes[:CHANGE_TABLE_LIMIT]
    ]
    return dg.MetadataValue.table(records, schema=schema)


def change_metadata(changes: ChangeSet) -> dict[str, dg.MetadataValue]:
    """What changed since the previous reports: a summary line, a number per kind (plotted
    over time; absent when there was nothing to compare with) and the changed instruments."""
    counts = changes.counts
    summary = counts.summary()
    if len(changes.changes) > CHANGE_TABLE_LIMIT:
        summary += (
            f" (the table shows the first {CHANGE_TABLE_LIMIT} of {len(changes.changes)} changes; "
            "`portfolio-assets changes --all` lists them all)"
        )
    metadata: dict[str, dg.MetadataValue] = {
        "changes_summary": dg.MetadataValue.text(summary),
        "changes_compared_with_previous": dg.MetadataValue.bool(changes.compared),
    }
    if changes.compared:
        metadata.update({f"changes_{kind}": dg.MetadataValue.int(counts.by_kind[kind]) for kind in CHANGE_KINDS})
    metadata["changed_instruments"] = _changes_table(changes)
    return metadata


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


_LAG_COLUMNS = ("symbol", "market", "isin", "source_file", "matched_ticker", "region", "price_end")


def lag_table(lags: Sequence[PriceLag], limit: int = 200) -> dg.MetadataValue:
    """The lagging instruments, most lagging first, with their region's newest price_end and the lag."""
    columns = [
        *(dg.TableColumn(name, "date" if name == "price_end" else "string") for name in _LAG_COLUMNS),
        dg.TableColumn("region_newest", "date"),
        dg.TableColumn("lag_business_days", "int"),
    ]
    records = [
        dg.TableRecord(
            {
                **{name: lag.row[name] for name in _LAG_COLUMNS},
                "region_newest": lag.region_newest,
                "lag_business_days": lag.business_days,
            }
        )
        for lag in lags[:limit]
    ]
    return dg.MetadataValue.table(records, schema=dg.TableSchema(columns=columns))
