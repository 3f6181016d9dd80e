"""The one CSV dialect of every file the pipeline writes, and reading it back.

Plain CSV with a header line, minimal quoting, `\\n` line endings and empty
cells for empty values, as the reference tool (pandas `to_csv`) writes it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = ["read_csv_dicts", "render_csv"]


def render_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def read_csv_dicts(path: Path) -> list[dict[str, str]]:
    """Read a CSV file this package wrote; every value stays text."""
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))
