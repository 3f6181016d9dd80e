"""Diagnostics of the matched Stooq files, reading only what changed (see `file_summaries`).

A file whose stamp (size, mtime, ctime, inode) is the one its summary was made at is
not opened; a summary made under another stamp is re-verified.
The others are read and hashed, and parsed only as far as their summary cannot
vouch for them. Summaries of files no longer matched are dropped, so the store
stays the size of the universe. A file that could not be read (gone, or an OS
error) is never remembered: a folder moved away for a moment must not leave
`missing_file` behind under the files' real stamps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..domain.diagnostics import Diagnostics
from ..io.parallel import map_files
from .file_summaries import FileRead, FileSummary, load_file_summaries, save_file_summaries, summarise_file
from .stooq_sources import StooqSource, StooqSources, remember_appended

__all__ = ["DiagnosedFiles", "diagnose_with_cache"]


@dataclass
class DiagnosedFiles:
    by_path: dict[str, Diagnostics] = field(default_factory=dict)
    stamps: dict[str, str] = field(default_factory=dict)
    contents: dict[str, str] = field(default_factory=dict)
    """Each file's SHA-256 where its bytes are known, else its stamp: what it holds, so that
    a file whose stamp alone moved (touched, chmod, unpacked again) keeps its entry."""
    files_read: int = 0
    files_extended: int = 0
    """Files read whose earlier bytes were verified, so that only appended rows were parsed."""
    bytes_read: int = 0
    bytes_parsed: int = 0
    rows_parsed: int = 0
    reused: int = 0
    warning: str | None = None


def _whole_file_bytes(stamp: str, summary: FileSummary | None) -> int:
    """How much of a file will likely be parsed: none when it grew from its summary."""
    size = int(stamp.split(":")[0]) if stamp != "missing" else 0
    return 0 if summary is not None and summary.counts is not None and size >= summary.size else size


def diagnose_with_cache(
    stooq_dir: Path,
    relative_paths: Iterable[str],
    cache_path: Path,
    version: str,
    read_file: Callable[[tuple[StooqSource, FileSummary | None]], FileRead] = summarise_file,
    force: bool = False,
) -> DiagnosedFiles:
    """Diagnostics of every path, reading only files whose stamp moved (all, in full, with `force`)."""
    known, loaded = load_file_summaries(cache_path, version)
    result = DiagnosedFiles(warning=loaded.warning)
    summaries: dict[str, FileSummary] = {}
    to_read: list[str] = []
    sources = StooqSources(stooq_dir)
    for relative_path in relative_paths:
        stamp = sources.stamp(relative_path)
        result.stamps[relative_path] = stamp
        summary = None if force else known.get(relative_path)
        if summary is not None and summary.stamp == stamp and stamp != "missing":
            summaries[relative_path] = summary
            result.by_path[relative_path] = summary.diagnostics
            result.reused += 1
        else:
            to_read.append(relative_path)
    jobs = [(sources.locate(path), None if force else known.get(path)) for path in to_read]
    reads = map_files(
        read_file,
        jobs,
        label="match_report: reading Stooq files",
        parse_bytes=sum(
            _whole_file_bytes(result.stamps[path], summary) for path, (_, summary) in zip(to_read, jobs, strict=True)
        ),
        item_file=lambda job: job[0],
    )
    appended = {}
    for relative_path, read in zip(to_read, reads, strict=True):
        if read.appended is not None and read.summary is not None and read.summary.earlier is not None:
            appended[relative_path] = (read.summary.stamp, read.summary.earlier[0], read.appended)
        result.by_path[relative_path] = read.diagnostics
        if read.summary is not None:
            summaries[relative_path] = read.summary
        result.bytes_read += read.bytes_read
        result.bytes_parsed += read.bytes_parsed
        result.rows_parsed += read.rows_parsed
        result.files_extended += read.extended
    remember_appended(appended)
    result.files_read = len(to_read)
    result.by_path = {path: result.by_path[path] for path in result.stamps}
    summaries = {path: summaries[path] for path in result.stamps if path in summaries}
    result.contents = {
        path: summaries[path].sha256 if path in summaries else stamp for path, stamp in result.stamps.items()
    }
    if summaries != known or loaded.warning:
        save_file_summaries(cache_path, version, summaries)
    return result
