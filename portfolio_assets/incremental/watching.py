"""What the sensors see of the input folders: a fingerprint, and files still being written.

A file modified within the last few seconds may still be being written (a
broker export saving, an archive unpacking); the sensors wait for it to settle
rather than fingerprint half a file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..domain.broker_lists import broker_list_paths
from ..domain.stooq_tree import scan_stooq_tree
from .fingerprints import stooq_fingerprint, tradeable_fingerprint

__all__ = ["SETTLE_SECONDS", "FolderState", "broker_folder_state", "stooq_tree_state"]

SETTLE_SECONDS = 3.0


@dataclass(frozen=True)
class FolderState:
    fingerprint: str
    unsettled: tuple[str, ...]  # names (relative paths) modified less than SETTLE_SECONDS ago
    file_count: int


def broker_folder_state(folder: Path, now: float, settle_seconds: float = SETTLE_SECONDS) -> FolderState:
    paths = broker_list_paths(folder)
    unsettled = tuple(path.name for path in paths if now - _mtime(path, now) < settle_seconds)
    if unsettled:
        return FolderState("", unsettled, len(paths))
    return FolderState(tradeable_fingerprint(folder), (), len(paths))


def _mtime(path: Path, now: float) -> float:
    """A file's mtime; one that vanished counts as just changed (look again next tick)."""
    try:
        return os.stat(path).st_mtime
    except FileNotFoundError:
        return now


def stooq_tree_state(root: Path, now: float, settle_seconds: float = SETTLE_SECONDS) -> FolderState:
    files = scan_stooq_tree(root)
    threshold = (now - settle_seconds) * 1e9
    unsettled = tuple(item.relative_path for item in files if item.mtime_ns > threshold)
    if unsettled:
        return FolderState("", unsettled, len(files))
    return FolderState(stooq_fingerprint(files), (), len(files))
