"""What the sensors see of the input folders: a fingerprint, and files still being written.

A file modified within the last few seconds may still be being written (a
broker export saving, an archive unpacking); the sensors wait for it to settle
rather than fingerprint half a file. A write sets the mtime to the clock's time,
so only an mtime near now means that: one further in the future was set on
purpose (`touch -d`, an archive unpacked from a zone ahead of this clock) and the
file counts as settled at once, rather than when the clock passes it. The
window reaches as far ahead as back, for a file server whose clock runs a little
ahead of this one.

An archive of the Stooq folder counts as still being written also while it has no
end-of-central-directory record: a browser that reserves a download's full size at
once leaves its mtime still, but the record comes last.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..domain.broker_lists import broker_list_paths
from ..domain.stooq_archives import has_end_record, is_archive_name
from ..domain.stooq_tree import is_archive_entry, scan_stooq_tree
from .fingerprints import stooq_fingerprint, tradeable_fingerprint
from .memo import stat_stamp

__all__ = [
    "SETTLE_SECONDS",
    "FolderState",
    "archive_stamps",
    "archives_being_written",
    "being_written",
    "broker_folder_state",
    "stooq_tree_state",
]

SETTLE_SECONDS = 3.0


@dataclass(frozen=True)
class FolderState:
    fingerprint: str
    unsettled: tuple[str, ...]  # names (relative paths) with an mtime within SETTLE_SECONDS of now
    file_count: int


def being_written(mtime_ns: int, now: float, settle_seconds: float = SETTLE_SECONDS) -> bool:
    """Whether a file with this mtime may still be being written: modified within
    `settle_seconds` of `now`, before or after it (see the module docstring)."""
    return abs(now * 1e9 - mtime_ns) < settle_seconds * 1e9


def broker_folder_state(folder: Path, now: float, settle_seconds: float = SETTLE_SECONDS) -> FolderState:
    paths = broker_list_paths(folder)
    unsettled = tuple(path.name for path in paths if being_written(_mtime_ns(path, now), now, settle_seconds))
    if unsettled:
        return FolderState("", unsettled, len(paths))
    return FolderState(tradeable_fingerprint(folder), (), len(paths))


def _mtime_ns(path: Path, now: float) -> int:
    """A file's mtime; one that vanished counts as just changed (look again next tick)."""
    try:
        return os.stat(path).st_mtime_ns
    except FileNotFoundError:
        return int(now * 1e9)


def stooq_tree_state(root: Path, now: float, settle_seconds: float = SETTLE_SECONDS) -> FolderState:
    files = scan_stooq_tree(root)
    unsettled = tuple(
        item.relative_path
        for item in files
        if being_written(item.mtime_ns, now, settle_seconds)
        or (is_archive_entry(item) and not has_end_record(root / item.relative_path))
    )
    if unsettled:
        return FolderState("", unsettled, len(files))
    return FolderState(stooq_fingerprint(files), (), len(files))


def archive_stamps(root: Path) -> dict[str, str]:
    """The stamp (`memo.stat_stamp`) of each archive at the top of the Stooq folder, by
    name: what a sensor tick looks at between two walks of the unpacked folders."""
    stamps = {}
    try:
        with os.scandir(root) as entries:
            for entry in entries:
                if is_archive_name(entry.name) and entry.is_file(follow_symlinks=False):
                    try:
                        stamps[entry.name] = stat_stamp(entry.stat(follow_symlinks=False))
                    except FileNotFoundError:
                        continue
    except OSError:
        return {}
    return stamps


def archives_being_written(
    root: Path, names: list[str], now: float, settle_seconds: float = SETTLE_SECONDS
) -> list[str]:
    """Which of these archives of the Stooq folder count as still being written (see the
    module docstring), found without walking the unpacked folders."""
    return [
        name
        for name in names
        if being_written(_mtime_ns(root / name, now), now, settle_seconds) or not has_end_record(root / name)
    ]
