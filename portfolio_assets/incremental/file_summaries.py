"""What is known of each matched Stooq file's bytes, so that a daily update reads only
what changed.

For every matched file it has read, match_report keeps a summary: the file's stamp
(size, mtime, ctime and inode: `memo.stat_stamp`), the SHA-256 of its bytes, its
diagnostics and the counts behind them. When the file's stamp moves, the file is read
and hashed again:
- same bytes (a file touched or unpacked again unchanged): the summary stands;
- it only grew, and its first bytes still hash to the summary's hash (verified,
  not guessed from the size): only the appended rows are parsed and the counts
  extended; the summary then also names the earlier version it extends
  (`earlier`: size and hash), which lets price_exports append the same rows to an
  export written from that version;
- anything else (shrunk, rewritten, rows that could repeat or reorder dates, a
  file that could not be decoded): the whole file is parsed.
The result is always what reading the whole file gives; tests check it byte for byte.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..domain.diagnostics import Diagnostics, RowCounts, unread_diagnostics
from ..domain.errors import PortfolioInputError
from ..domain.price_files import MissingPriceFile, UnreadablePriceFile
from ..domain.price_scan import appended_bytes, appended_export_rows, scan_appended, scan_bytes
from ..domain.stooq_archives import ArchiveMember, read_member
from .json_cache import LoadedCache, load_json_cache, save_json_cache
from .memo import stat_stamp
from .stooq_sources import StooqSource

__all__ = [
    "FileRead",
    "FileSummary",
    "load_file_summaries",
    "read_stamped",
    "readable_now",
    "save_file_summaries",
    "summarise_file",
]

KIND = "file_summaries"


@dataclass(frozen=True, slots=True)
class FileSummary:
    stamp: str
    size: int
    sha256: str
    diagnostics: Diagnostics
    counts: RowCounts | None
    """None for a file that could not be decoded: its diagnostics stand, nothing extends."""
    earlier: tuple[int, str] | None = None
    """(size, sha256) of the verified earlier version this one only appended rows to."""
    export_offset: int | None = None
    """`FileScan.export_offset`: the export is its header line and the bytes from here on."""

    def to_json(self) -> list[Any]:
        # Spelled out: dataclasses.astuple deep-copies, ten times slower over 7,000 files.
        d, c = self.diagnostics, self.counts
        return [
            self.stamp,
            self.size,
            self.sha256,
            [d.price_start, d.price_end, d.price_rows, d.data_status, d.data_flags],
            None
            if c is None
            else [
                c.rows,
                c.invalid,
                c.first,
                c.last,
                c.non_numeric,
                c.non_positive,
                c.missing_volume,
                c.zero_volume,
                c.duplicates,
                c.non_monotonic,
            ],
            None if self.earlier is None else list(self.earlier),
            self.export_offset,
        ]

    @classmethod
    def from_json(cls, value: Any) -> FileSummary | None:
        """The summary a cache entry holds, or None for anything malformed."""
        try:
            stamp, size, sha256, diagnostics, counts, earlier, export_offset = value
            start, end, rows, status, flags = diagnostics
            return cls(
                str(stamp),
                int(size),
                str(sha256),
                Diagnostics(str(start), str(end), int(rows), str(status), str(flags)),
                None if counts is None else _counts_from_json(counts),
                None if earlier is None else (int(earlier[0]), str(earlier[1])),
                None if export_offset is None else int(export_offset),
            )
        except (TypeError, ValueError, IndexError):
            return None


def _counts_from_json(value: Any) -> RowCounts:
    rows, invalid, first, last, non_numeric, non_positive, missing_volume, zero_volume, duplicates, non_monotonic = (
        value
    )
    if not all(isinstance(flag, bool) for flag in (duplicates, non_monotonic)):
        raise ValueError("flags must be booleans")
    return RowCounts(
        int(rows),
        int(invalid),
        str(first),
        str(last),
        int(non_numeric),
        int(non_positive),
        int(missing_volume),
        int(zero_volume),
        duplicates,
        non_monotonic,
    )


@dataclass(frozen=True, slots=True)
class FileRead:
    """One file read: its summary (None when it could not be read at all) and the work done."""

    diagnostics: Diagnostics
    summary: FileSummary | None
    bytes_read: int = 0
    bytes_parsed: int = 0
    rows_parsed: int = 0
    extended: bool = False
    appended: bytes | None = None
    """An archive member's bytes after its earlier version, when it only grew: price_exports
    appends them to the export without decompressing the member a second time."""


def read_stamped(path: StooqSource) -> tuple[bytes, str] | MissingPriceFile | UnreadablePriceFile:
    """A file's bytes and the stamp (`memo.stat_stamp`) it had when opened; an archive
    member's bytes, verified, and its stamp (a damaged member raises BrokenArchive)."""
    if isinstance(path, ArchiveMember):
        return read_member(path), path.stamp
    try:
        with open(path, "rb") as handle:
            stat = os.fstat(handle.fileno())
            return handle.read(), stat_stamp(stat)
    except FileNotFoundError:
        return MissingPriceFile()
    except OSError as error:
        return UnreadablePriceFile(type(error).__name__)


def readable_now(path: StooqSource) -> bool:
    """Whether a file reads now, all of it, as `read_stamped` reads it: a file whose first
    pages read but a later one fails (a bad block, a flaky share) would otherwise be
    reported readable after every materialization, and read again for ever."""
    try:
        return isinstance(read_stamped(path), tuple)
    except PortfolioInputError:  # an archive member that is damaged, or whose archive moved
        return False


def _from_known(data: bytes, stamp: str, known: FileSummary) -> FileRead | None:
    """The read of `data` from what `known` says of its first bytes, or None."""
    if known.size <= 0 or len(data) < known.size:
        return None
    view = memoryview(data)
    digest = hashlib.sha256(view[: known.size])
    if digest.hexdigest() != known.sha256:
        return None
    if len(data) == known.size:
        return FileRead(known.diagnostics, replace(known, stamp=stamp), bytes_read=len(data))
    appended = appended_bytes(data, known.size)
    if known.counts is None or appended is None:
        return None
    counts = scan_appended(known.counts, appended)
    if counts is None:
        return None
    digest.update(view[known.size :])
    diagnostics = counts.diagnostics()
    # Rows appended verbatim keep the export a plain copy of the bytes from the same offset.
    verbatim = known.export_offset is not None and appended_export_rows(appended) == appended
    summary = FileSummary(
        stamp,
        len(data),
        digest.hexdigest(),
        diagnostics,
        counts,
        (known.size, known.sha256),
        known.export_offset if verbatim else None,
    )
    rows_parsed = counts.rows + counts.invalid - known.counts.rows - known.counts.invalid
    return FileRead(diagnostics, summary, len(data), len(appended), rows_parsed, extended=True)


def summarise_file(job: tuple[StooqSource, FileSummary | None]) -> FileRead:
    """Read one matched file, parsing only what `known` (its last summary) cannot vouch for.

    Runs in a worker thread or process on big runs."""
    path, known = job
    source = read_stamped(path)
    if not isinstance(source, tuple):
        return FileRead(unread_diagnostics(source), None)
    data, stamp = source
    if known is not None:
        reused = _from_known(data, stamp, known)
        if reused is not None and reused.extended and isinstance(path, ArchiveMember):
            return replace(reused, appended=data[known.size :])
        if reused is not None:
            return reused
    scan = scan_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    summary = FileSummary(stamp, len(data), digest, scan.diagnostics, scan.counts, None, scan.export_offset)
    return FileRead(scan.diagnostics, summary, len(data), len(data), scan.rows_parsed)


def load_file_summaries(path: Path, version: str) -> tuple[dict[str, FileSummary], LoadedCache]:
    """The summaries by relative path (malformed entries left out), and the loaded cache."""
    loaded = load_json_cache(path, KIND, version)
    summaries = {}
    for relative_path, value in loaded.entries.items():
        summary = FileSummary.from_json(value)
        if summary is not None:
            summaries[relative_path] = summary
    return summaries, loaded


def save_file_summaries(path: Path, version: str, summaries: dict[str, FileSummary]) -> None:
    save_json_cache(path, KIND, version, {key: summary.to_json() for key, summary in summaries.items()})
