"""Turning step results into the metadata users read in the UI."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import dagster as dg

__all__ = ["markdown_table", "counts_table", "csv_preview"]


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> dg.MetadataValue:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return dg.MetadataValue.md("\n".join(lines))


def counts_table(title: str, counts: Mapping[str, int] | Counter) -> dg.MetadataValue:
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return markdown_table((title, "rows"), ordered)


def csv_preview(header: Sequence[str], rows: Sequence[Sequence[object]], limit: int = 10) -> dg.MetadataValue:
    return markdown_table(header, rows[:limit])
