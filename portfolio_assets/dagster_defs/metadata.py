"""Turning step results into the metadata users read in the UI.

Counts are typed tables (`MetadataValue.table`) and report shapes use Dagster's standard
keys (`dagster/row_count`, `dagster/column_schema`), so the UI shows them in its own
places (row count in the asset's overview, the columns tab) and plots numbers over time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import dagster as dg

__all__ = ["counts_table", "csv_preview", "markdown_table", "report_shape"]

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
        "dagster/row_count": dg.MetadataValue.int(row_count),
        "dagster/column_schema": dg.MetadataValue.table_schema(schema),
    }


def csv_preview(header: Sequence[str], rows: Sequence[Sequence[object]], limit: int = 10) -> dg.MetadataValue:
    return markdown_table(header, rows[:limit])
