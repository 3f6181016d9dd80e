"""The unpacked Stooq tree: which files count, the index entry of each (SPEC 1.1), and a
ticker's base and extension (SPEC 3), for the index and for matching.

A file counts when its name ends in `.txt` (any case), no part of its path
relative to the root starts with `.`, and it is reached without following
symlinks. Scanning uses `os.scandir` only, so it reads no file content.

An archive `X.zip` at the top of the root stands for the folder `X/` (SPEC 1.3,
`stooq_archives.py`): the scan lists the archive itself, by its stat, so that watching
the tree and its version cost a stat per archive; `counted_paths` lists its members.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .csv_files import file_identity, render_csv
from .errors import InputVanished, PortfolioInputError, printable
from .stooq_archives import ArchiveFolderConflict, archive_folder, is_archive_name, keep_listings_of, list_archive

__all__ = [
    "INDEX_COLUMNS",
    "IndexEntry",
    "StooqFile",
    "UndecodableFileName",
    "build_index",
    "count_index_rows",
    "counted_paths",
    "index_entry",
    "is_archive_entry",
    "read_index",
    "read_index_for_bases",
    "remember_index",
    "render_index",
    "scan_stooq_tree",
    "split_ticker",
    "unpacked_folders",
]

INDEX_COLUMNS = ("ticker", "stem", "relative_path", "region", "category")


@dataclass(frozen=True, slots=True)
class StooqFile:
    """A counted file of the tree as `os.scandir` sees it."""

    relative_path: str  # POSIX separators, relative to the Stooq root
    size: int
    mtime_ns: int
    ctime_ns: int  # set by the kernel on every change: a restored mtime does not hide one
    inode: int


def split_ticker(ticker: str) -> tuple[str, str]:
    """A ticker's base (before its first `.`) and extension (from its first `.` on, `""`
    when it has none), upper-cased: `aapl.us` gives `("AAPL", ".US")`."""
    base, dot, rest = ticker.upper().partition(".")
    return base, dot + rest


@dataclass(frozen=True, slots=True)
class IndexEntry:
    ticker: str
    stem: str
    relative_path: str
    region: str
    category: str

    @property
    def extension(self) -> str:
        """The ticker's extension (`split_ticker`)."""
        return split_ticker(self.ticker)[1]

    @property
    def base(self) -> str:
        """The ticker's base (`split_ticker`)."""
        return split_ticker(self.ticker)[0]

    def as_row(self) -> tuple[str, str, str, str, str]:
        return (self.ticker, self.stem, self.relative_path, self.region, self.category)


def is_archive_entry(item: StooqFile) -> bool:
    """Whether a scanned entry is an archive (at the top of the root) rather than a file."""
    return "/" not in item.relative_path and is_archive_name(item.relative_path)


def scan_stooq_tree(root: Path) -> list[StooqFile]:
    """Every counted `*.txt` file under `root`, and every archive at its top, with its
    stat, sorted by relative path. An archive beside the folder it stands for (or beside
    another archive standing for the same folder) is an ArchiveFolderConflict."""
    found = [
        StooqFile(path, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino) for path, stat in _walk(root)
    ]
    found.sort(key=lambda item: item.relative_path)
    archives = [item.relative_path for item in found if is_archive_entry(item)]
    keep_listings_of(root, archives)
    if archives:
        _refuse_conflicts(root, archives)
    return found


def _refuse_conflicts(root: Path, archives: list[str]) -> None:
    by_folder: dict[str, str] = {}
    for name in archives:
        folder = archive_folder(name)
        other = by_folder.setdefault(folder, name)
        if other == name and not os.path.isdir(os.path.join(root, folder)):
            continue
        # os.path.isdir follows a symlink; the walk does not, but a link named like
        # the archive's folder is as confusing: both are refused alike.
        shown = other if other != name else f"{folder}/"
        raise ArchiveFolderConflict(
            f"Stooq folder {printable(root)}: the archive {printable(name)} and {printable(shown)} both stand for "
            f"the folder {printable(folder)}/; keep one of them (remove the unpacked folder to read the archive "
            "as it is) and run again"
        )


def unpacked_folders(root: Path) -> list[str]:
    """The folders at the top of the root that are walked as files (not hidden, not links)."""
    try:
        with os.scandir(root) as entries:
            return sorted(e.name for e in entries if not e.name.startswith(".") and e.is_dir(follow_symlinks=False))
    except OSError:
        return []


def counted_paths(root: Path, files: list[StooqFile]) -> list[str]:
    """The relative paths of every counted file of a scan, the archives' members in place
    of the archives, sorted. Reads each changed archive's central directory."""
    paths: list[str] = []
    for item in files:
        if is_archive_entry(item):
            paths.extend(list_archive(root / item.relative_path).members)
        else:
            paths.append(item.relative_path)
    paths.sort()
    return paths


def _walk(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    """(relative path, stat) of each counted file, in no particular order."""
    pending = [(str(root), "")]
    while pending:
        folder, prefix = pending.pop()
        try:
            entries = os.scandir(folder)
        except FileNotFoundError:
            raise InputVanished(Path(folder), "the Stooq tree was being scanned") from None
        with entries:
            for entry in entries:
                name = entry.name
                if name.startswith("."):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    pending.append((entry.path, f"{prefix}{name}/"))
                elif not prefix and is_archive_name(name) and entry.is_file(follow_symlinks=False):
                    if not name.isascii():
                        _require_utf8(root, name)
                    try:
                        yield name, entry.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        continue
                elif name.lower().endswith(".txt") and entry.is_file(follow_symlinks=False):
                    try:
                        stat = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        continue  # removed while we scanned: it is not there
                    relative = f"{prefix}{name}"
                    if not relative.isascii():
                        _require_utf8(root, relative)
                    yield relative, stat


class UndecodableFileName(PortfolioInputError):
    """A counted Stooq file whose path is not valid UTF-8: it could not be written into the
    UTF-8 index and reports, and silently leaving it out would change what matches."""


def _require_utf8(root: Path, relative: str) -> None:
    try:
        relative.encode("utf-8")
    except UnicodeEncodeError:
        shown = printable(os.path.join(root, relative))
        raise UndecodableFileName(
            f"Stooq file {shown}: its name is not valid UTF-8, so it cannot be listed in the index; "
            "rename it (or remove it) and run again"
        ) from None


def index_entry(relative_path: str) -> IndexEntry:
    """Ticker, stem, region and category of one relative path."""
    parts = relative_path.split("/")
    name = parts[-1]
    dot = name.rfind(".")
    stem = (name[:dot] if dot > 0 else name).upper()
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


def build_index(relative_paths: list[str]) -> list[IndexEntry]:
    return [index_entry(path) for path in relative_paths]


def render_index(entries: list[IndexEntry]) -> str:
    return render_csv(INDEX_COLUMNS, (entry.as_row() for entry in entries))


def read_index_for_bases(path: Path, bases: set[str]) -> tuple[list[IndexEntry], set[str]]:
    """The entries whose ticker base is in `bases`, and the extensions of the whole index."""
    entries, extensions = [], set()
    with open(path, newline="", encoding="utf-8") as handle:
        rows = csv.reader(handle)
        if next(rows, None) != list(INDEX_COLUMNS):
            raise ValueError(f"{path} is not a Stooq index (unexpected header)")
        for row in rows:
            base, extension = split_ticker(row[0])
            extensions.add(extension)
            if base in bases:
                entries.append(IndexEntry(*row))
    return entries, extensions


def count_index_rows(path: Path) -> int:
    """Data rows of an index file, without parsing it (no field holds a line break)."""
    with open(path, "rb") as handle:
        return max(0, handle.read().count(b"\n") - 1)


# The entries this process last wrote or read, by path and file stamp: match_report
# running right after stooq_index in one run reuses them instead of parsing the file.
_INDEX_CACHE: dict[Path, tuple[tuple[int, int, int, int], list[IndexEntry]]] = {}


def remember_index(path: Path, entries: list[IndexEntry]) -> None:
    stat = path.stat()
    _INDEX_CACHE.clear()
    _INDEX_CACHE[path] = (file_identity(stat), entries)


def read_index(path: Path) -> list[IndexEntry]:
    stat = path.stat()
    cached = _INDEX_CACHE.get(path)
    if cached is not None and cached[0] == file_identity(stat):
        return list(cached[1])
    entries = _parse_index(path)
    remember_index(path, entries)
    return entries


def _parse_index(path: Path) -> list[IndexEntry]:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = csv.reader(handle)
        if next(rows, None) != list(INDEX_COLUMNS):
            raise ValueError(f"{path} is not a Stooq index (unexpected header)")
        return [IndexEntry(*row) for row in rows]
