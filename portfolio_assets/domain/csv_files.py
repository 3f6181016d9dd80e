"""The one CSV dialect of every file the pipeline writes, and reading it back.

Plain CSV with a header line, minimal quoting, `\\n` line endings and empty
cells for empty values, as the reference tool (pandas `to_csv`) writes it. A file's
identity (`file_identity`) tells when a parse of it kept in memory still holds.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = ["file_identity", "read_csv_dicts", "read_csv_rows", "render_csv", "render_csv_rows"]


def render_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    return render_csv_rows([header]) + render_csv_rows(rows)


def render_csv_rows(rows: Iterable[Sequence[object]]) -> str:
    """Rows without a header: `render_csv` is the header's line followed by these, so a
    file can be put together from the rows of its parts."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerows(rows)
    return buffer.getvalue()


def read_csv_rows(text: str) -> list[list[str]]:
    """The rows of CSV text this package wrote (a whole file, or the rows of a part of one)."""
    return list(csv.reader(io.StringIO(text, newline="")))


def read_csv_dicts(path: Path) -> list[dict[str, str]]:
    """Read a CSV file this package wrote; every value stays text."""
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def file_identity(stat: os.stat_result) -> tuple[int, int, int, int]:
    """Size, mtime, ctime and inode: a file with the same ones was not changed. The mtime
    alone can be put back (`touch -r`); the ctime, set by the kernel, cannot."""
    return (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)
