"""The unpacked Stooq tree: which files count, and the index entry of each (SPEC 1.1).

A file counts when its name ends in `.txt` (any case), no part of its path
relative to the root starts with `.`, and it is reached without following
symlinks. Scanning uses `os.scandir` only, so it reads no file content.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .csv_files import read_csv_dicts, render_csv

__all__ = [
    "INDEX_COLUMNS",
    "StooqFile",
    "IndexEntry",
    "scan_stooq_tree",
    "index_entry",
    "build_index",
    "render_index",
    "read_index",
]

INDEX_COLUMNS = ("ticker", "stem", "relative_path", "region", "category")


@dataclass(frozen=True, slots=True)
class StooqFile:
    """A counted file of the tree as `os.scandir` sees it."""

    relative_path: str  # POSIX separators, relative to the Stooq root
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class IndexEntry:
    ticker: str
    stem: str
    relative_path: str
    region: str
    category: str

    @property
    def extension(self) -> str:
        """The ticker from its first `.` on (`.US`), or `""` when it has none."""
        dot = self.ticker.find(".")
        return "" if dot < 0 else self.ticker[dot:].upper()

    @property
    def base(self) -> str:
        """The ticker before its first `.`."""
        return self.ticker.split(".", 1)[0].upper()

    def as_row(self) -> tuple[str, str, str, str, str]:
        return (self.ticker, self.stem, self.relative_path, self.region, self.category)


def scan_stooq_tree(root: Path) -> list[StooqFile]:
    """Every counted `*.txt` file under `root`, sorted by relative path."""
    found: list[StooqFile] = []
    pending = [(str(root), "")]
    while pending:
        folder, prefix = pending.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                name = entry.name
                if name.startswith("."):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    pending.append((entry.path, f"{prefix}{name}/"))
                elif name.lower().endswith(".txt") and entry.is_file(follow_symlinks=False):
                    stat = entry.stat(follow_symlinks=False)
                    found.append(StooqFile(f"{prefix}{name}", stat.st_size, stat.st_mtime_ns))
    found.sort(key=lambda item: item.relative_path)
    return found


def index_entry(relative_path: str) -> IndexEntry:
    """Ticker, stem, region and category of one relative path."""
    parts = PurePosixPath(relative_path).parts
    stem = PurePosixPath(parts[-1]).stem.upper()
    # Read literally, as the reference tool does: a file right under `daily` (or
    # under the root) has its own name as region.
    if "daily" in parts[:-1]:
        at = parts.index("daily")
        region = parts[at + 1]
        category = "/".join(parts[at + 2 : -1])
    else:
        region = parts[0]
        category = "/".join(parts[1:-1])
    return IndexEntry(stem, stem, relative_path, region, category)


def build_index(files: list[StooqFile]) -> list[IndexEntry]:
    return [index_entry(item.relative_path) for item in files]


def render_index(entries: list[IndexEntry]) -> str:
    return render_csv(INDEX_COLUMNS, (entry.as_row() for entry in entries))


def read_index(path: Path) -> list[IndexEntry]:
    return [
        IndexEntry(row["ticker"], row["stem"], row["relative_path"], row["region"], row["category"])
        for row in read_csv_dicts(path)
    ]
