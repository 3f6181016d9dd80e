"""What changed in each of Stooq's archives since the outputs were made, in words, for
`portfolio-assets status`: "archive d_us_txt.zip: 6,992 members changed, 3 members added".

Changed members are the members the reports read (the matched ones, which have a file
summary) whose size or CRC-32 moved; added and removed ones are counted against the
index. Only the central directories are read.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..domain.stooq_archives import archive_folder, is_archive_name, list_archive
from ..domain.stooq_tree import read_index
from .file_summaries import load_file_summaries

__all__ = ["describe_archive_changes"]


# The last answer, by what it depends on: a refresh asks once per stale asset.
_LAST: dict[tuple[object, ...], list[str]] = {}


def _identity(path: Path) -> tuple[int, int, int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)


def describe_archive_changes(stooq_dir: Path, index_path: Path, summaries_path: Path, version: str) -> list[str]:
    """One line per archive with a change; none for an archive without."""
    try:
        archives = sorted(
            (entry.name, _identity(Path(entry.path)))
            for entry in os.scandir(stooq_dir)
            if is_archive_name(entry.name) and entry.is_file(follow_symlinks=False)
        )
    except OSError:
        return []
    if not archives:
        return []
    key = (str(stooq_dir), tuple(archives), _identity(index_path), _identity(summaries_path), version)
    if key not in _LAST:
        _LAST.clear()
        _LAST[key] = _describe([name for name, _ in archives], stooq_dir, index_path, summaries_path, version)
    return list(_LAST[key])


def _describe(names: list[str], stooq_dir: Path, index_path: Path, summaries_path: Path, version: str) -> list[str]:
    indexed: dict[str, set[str]] = {}
    try:
        for entry in read_index(index_path):
            indexed.setdefault(entry.relative_path.partition("/")[0], set()).add(entry.relative_path)
    except (OSError, ValueError):
        pass  # no index yet: every member is new
    summaries = load_file_summaries(summaries_path, version)[0]
    lines = []
    for name in names:
        members = list_archive(stooq_dir / name).members
        before = indexed.get(archive_folder(name), set())
        changed = sum(
            1 for path, member in members.items() if (known := summaries.get(path)) and member.stamp != known.stamp
        )
        shown = [
            f"{count:,} member{'s' if count != 1 else ''} {what}"
            for count, what in (
                (changed, "changed"),
                (len(members.keys() - before), "added"),
                (len(before - members.keys()), "removed"),
            )
            if count
        ]
        if shown:
            lines.append(f"archive {name}: {', '.join(shown)}")
    return lines
