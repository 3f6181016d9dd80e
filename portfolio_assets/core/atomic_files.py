"""Atomic file writes: a temporary file in the target folder, then `os.replace`.

Every output of the pipeline goes through here, so a reader never sees a
half-written file and a failed run leaves the previous outputs intact.
Temporary files carry a fixed prefix so a later run can recognise and remove
leftovers of a killed one.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

__all__ = ["TEMP_PREFIX", "write_bytes_atomic", "write_text_atomic", "write_text_if_changed", "file_holds",
           "replace_all", "stage_bytes",
           "remove_leftover_temp_files"]

TEMP_PREFIX = ".portfolio-assets-tmp-"


def stage_bytes(path: Path, data: bytes) -> Path:
    """Write `data` to a new temporary file beside `path` and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return Path(temp_name)


def replace_all(staged: Iterable[tuple[Path, Path]]) -> None:
    """Move each staged temporary file onto its target; on failure drop the rest."""
    pending = list(staged)
    try:
        while pending:
            temp_path, target = pending[0]
            os.replace(temp_path, target)
            pending.pop(0)
    finally:
        for temp_path, _ in pending:
            temp_path.unlink(missing_ok=True)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    replace_all([(stage_bytes(path, data), path)])


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_text_if_changed(path: Path, text: str) -> bool:
    """Write atomically unless the file already holds exactly this text; True if written.

    Leaving an identical file alone keeps its mtime, so readers that watch
    mtimes see no change.
    """
    data = text.encode("utf-8")
    if file_holds(path, data):
        return False
    write_bytes_atomic(path, data)
    return True


def file_holds(path: Path, data: bytes) -> bool:
    """Whether `path` exists with exactly these bytes."""
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


def remove_leftover_temp_files(folder: Path, older_than_seconds: float = 0) -> int:
    """Delete temporary files a killed run left in `folder` (only those older than
    `older_than_seconds`, when a live writer could own the newer ones); return how many."""
    if not folder.is_dir():
        return 0
    removed = 0
    now = time.time()
    for entry in os.scandir(folder):
        if entry.name.startswith(TEMP_PREFIX) and entry.is_file(follow_symlinks=False):
            try:
                if now - entry.stat().st_mtime < older_than_seconds:
                    continue
            except FileNotFoundError:
                continue
            Path(entry.path).unlink(missing_ok=True)
            removed += 1
    return removed
